/**
 * Types for the `linux` section of an OCI runtime-spec v1.2 config (config-linux.md):
 * namespaces, id mappings, devices, cgroup resources, seccomp and the rest. Re-exported by
 * runtime-spec.ts, which is where callers import them from.
 */

// ---- linux (config-linux.md) ----

export interface Linux {
  namespaces?: Namespace[];
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
  timeOffsets?: Partial<Record<TimeOffsetClock, TimeOffset>>;
  devices?: Device[];
  cgroupsPath?: string;
  resources?: Resources;
  intelRdt?: IntelRdt;
  sysctl?: Record<string, string>;
  seccomp?: Seccomp;
  rootfsPropagation?: RootfsPropagation;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
  personality?: Personality;
}

export type NamespaceType =
  | 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';
export const NAMESPACE_TYPES: readonly NamespaceType[] = [
  'pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time',
];

export interface Namespace {
  type: NamespaceType;
  /** Join this namespace file instead of creating a namespace. */
  path?: string;
}

export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export type TimeOffsetClock = 'monotonic' | 'boottime';
export const TIME_OFFSET_CLOCKS: readonly TimeOffsetClock[] = ['monotonic', 'boottime'];

export interface TimeOffset {
  secs?: number;
  nanosecs?: number;
}

/** `c` character, `b` block, `u` unbuffered character, `p` FIFO. */
export type DeviceType = 'c' | 'b' | 'u' | 'p';
export const DEVICE_TYPES: readonly DeviceType[] = ['c', 'b', 'u', 'p'];

export interface Device {
  type: DeviceType;
  path: string;
  /** Required unless `type` is `p`. */
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export type RootfsPropagation =
  | 'private' | 'shared' | 'slave' | 'unbindable'
  | 'rprivate' | 'rshared' | 'rslave' | 'runbindable';
/** The spec lists the first four; runc also accepts the recursive forms. */
export const ROOTFS_PROPAGATIONS: readonly RootfsPropagation[] = [
  'private', 'shared', 'slave', 'unbindable', 'rprivate', 'rshared', 'rslave', 'runbindable',
];

export type PersonalityDomain = 'LINUX' | 'LINUX32';
export const PERSONALITY_DOMAINS: readonly PersonalityDomain[] = ['LINUX', 'LINUX32'];

export interface Personality {
  domain: PersonalityDomain;
  /** The spec defines no flags yet. */
  flags?: string[];
}

export interface IntelRdt {
  closID?: string;
  l3CacheSchema?: string;
  /** Starts with `MB:`, no newlines. */
  memBwSchema?: string;
  enableCMT?: boolean;
  enableMBM?: boolean;
}

// ---- linux.resources (config-linux.md "Control groups") ----

export interface Resources {
  devices?: DeviceCgroupRule[];
  memory?: MemoryResources;
  cpu?: CpuResources;
  pids?: PidsResources;
  blockIO?: BlockIoResources;
  hugepageLimits?: HugepageLimit[];
  network?: NetworkResources;
  /** Keyed by RDMA device name. */
  rdma?: Record<string, RdmaLimit>;
  /** cgroup v2 file name → value. */
  unified?: Record<string, string>;
}

export interface DeviceCgroupRule {
  allow: boolean;
  /** `a` all, `c` char, `b` block. */
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  /** Some of `r`, `w`, `m`. */
  access?: string;
}

export interface MemoryResources {
  limit?: number;
  reservation?: number;
  swap?: number;
  /** Deprecated (cgroup v1 only, removed from Linux 5.4 on). */
  kernel?: number;
  kernelTCP?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

export interface CpuResources {
  shares?: number;
  /** Microseconds per period. */
  quota?: number;
  burst?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
  idle?: number;
}

export interface PidsResources {
  limit: number;
}

export interface BlockIoDevice {
  major: number;
  minor: number;
}

export interface WeightDevice extends BlockIoDevice {
  weight?: number;
  leafWeight?: number;
}

export interface ThrottleDevice extends BlockIoDevice {
  rate: number;
}

export interface BlockIoResources {
  weight?: number;
  leafWeight?: number;
  weightDevice?: WeightDevice[];
  throttleReadBpsDevice?: ThrottleDevice[];
  throttleWriteBpsDevice?: ThrottleDevice[];
  throttleReadIOPSDevice?: ThrottleDevice[];
  throttleWriteIOPSDevice?: ThrottleDevice[];
}

export interface HugepageLimit {
  /** `<size><unit>B`, for example `2MB`. */
  pageSize: string;
  limit: number;
}

export interface NetworkResources {
  classID?: number;
  priorities?: InterfacePriority[];
}

export interface InterfacePriority {
  name: string;
  priority: number;
}

export interface RdmaLimit {
  hcaHandles?: number;
  hcaObjects?: number;
}

// ---- linux.seccomp (config-linux.md "Seccomp") ----

export type SeccompAction =
  | 'SCMP_ACT_KILL' | 'SCMP_ACT_KILL_PROCESS' | 'SCMP_ACT_KILL_THREAD' | 'SCMP_ACT_TRAP'
  | 'SCMP_ACT_ERRNO' | 'SCMP_ACT_TRACE' | 'SCMP_ACT_ALLOW' | 'SCMP_ACT_LOG' | 'SCMP_ACT_NOTIFY';
export const SECCOMP_ACTIONS: readonly SeccompAction[] = [
  'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO', 'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY',
];

export type SeccompOperator =
  | 'SCMP_CMP_NE' | 'SCMP_CMP_LT' | 'SCMP_CMP_LE' | 'SCMP_CMP_EQ' | 'SCMP_CMP_GE'
  | 'SCMP_CMP_GT' | 'SCMP_CMP_MASKED_EQ';
export const SECCOMP_OPERATORS: readonly SeccompOperator[] = [
  'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
];

/** libseccomp 2.5 architecture tokens, as listed by config-linux.md. */
export type SeccompArch =
  | 'SCMP_ARCH_X86' | 'SCMP_ARCH_X86_64' | 'SCMP_ARCH_X32' | 'SCMP_ARCH_ARM'
  | 'SCMP_ARCH_AARCH64' | 'SCMP_ARCH_MIPS' | 'SCMP_ARCH_MIPS64' | 'SCMP_ARCH_MIPS64N32'
  | 'SCMP_ARCH_MIPSEL' | 'SCMP_ARCH_MIPSEL64' | 'SCMP_ARCH_MIPSEL64N32' | 'SCMP_ARCH_PPC'
  | 'SCMP_ARCH_PPC64' | 'SCMP_ARCH_PPC64LE' | 'SCMP_ARCH_S390' | 'SCMP_ARCH_S390X'
  | 'SCMP_ARCH_PARISC' | 'SCMP_ARCH_PARISC64' | 'SCMP_ARCH_RISCV64';
export const SECCOMP_ARCHES: readonly SeccompArch[] = [
  'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_MIPSEL',
  'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32', 'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64',
  'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390', 'SCMP_ARCH_S390X', 'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64', 'SCMP_ARCH_RISCV64',
];

export type SeccompFlag =
  | 'SECCOMP_FILTER_FLAG_TSYNC' | 'SECCOMP_FILTER_FLAG_LOG' | 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'
  | 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV';
export const SECCOMP_FLAGS: readonly SeccompFlag[] = [
  'SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
  'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV',
];

export interface Seccomp {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: SeccompArch[];
  flags?: SeccompFlag[];
  /** AF_UNIX SOCK_STREAM socket that receives the notify fd (SCMP_ACT_NOTIFY). */
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: SeccompSyscall[];
}

export interface SeccompSyscall {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: SeccompArg[];
}

export interface SeccompArg {
  /** Syscall argument number, 0..5. */
  index: number;
  value: number;
  valueTwo?: number;
  op: SeccompOperator;
}
