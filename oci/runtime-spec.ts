/**
 * Types for the OCI runtime-spec v1.2 `config.json` (config.md, config-linux.md, config-vm.md)
 * and the container state (runtime.md "State"), Linux fields only. Optional fields follow the
 * spec's OPTIONAL; under `exactOptionalPropertyTypes` an absent field is absent, never `undefined`.
 *
 * Numbers: JSON.parse yields IEEE doubles, so uint64/int64 values above 2^53 arrive rounded.
 * RLIM_INFINITY (18446744073709551615) reads as 2^64; validation accepts it, and code that turns
 * a limit into a syscall argument must treat 2^64 as "all ones".
 * `execCPUAffinity` is from runtime-spec v1.2.1; it is accepted here with the rest.
 */

import type { IdMapping, Linux } from './runtime-spec-linux.js';

export * from './runtime-spec-linux.js';

/** The runtime-spec version kapsel writes (runtime-spec v1.2.0). */
export const OCI_VERSION = '1.2.0';

export interface Spec {
  ociVersion: string;
  process?: Process;
  root?: Root;
  hostname?: string;
  domainname?: string;
  mounts?: Mount[];
  hooks?: Hooks;
  annotations?: Record<string, string>;
  linux?: Linux;
  vm?: Vm;
}

// ---- process (config.md "Process", "POSIX process", "Linux Process", "User") ----

export interface Process {
  terminal?: boolean;
  consoleSize?: ConsoleSize;
  user: User;
  args?: string[];
  /** Windows only; kept so a config that carries it round-trips. */
  commandLine?: string;
  env?: string[];
  cwd: string;
  capabilities?: Capabilities;
  rlimits?: Rlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  scheduler?: Scheduler;
  selinuxLabel?: string;
  ioPriority?: IoPriority;
  execCPUAffinity?: CpuAffinity;
}

export interface ConsoleSize {
  height: number;
  width: number;
}

export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  /** Windows only. */
  username?: string;
}

export interface Capabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export type CapabilitySet = keyof Capabilities;
export const CAPABILITY_SETS: readonly CapabilitySet[] = [
  'bounding', 'effective', 'inheritable', 'permitted', 'ambient',
];

export interface Rlimit {
  /** `RLIMIT_*` as in getrlimit(2). */
  type: string;
  hard: number;
  soft: number;
}

export type SchedulerPolicy =
  | 'SCHED_OTHER' | 'SCHED_FIFO' | 'SCHED_RR' | 'SCHED_BATCH' | 'SCHED_ISO' | 'SCHED_IDLE'
  | 'SCHED_DEADLINE';
export const SCHEDULER_POLICIES: readonly SchedulerPolicy[] = [
  'SCHED_OTHER', 'SCHED_FIFO', 'SCHED_RR', 'SCHED_BATCH', 'SCHED_ISO', 'SCHED_IDLE',
  'SCHED_DEADLINE',
];

export type SchedulerFlag =
  | 'SCHED_FLAG_RESET_ON_FORK' | 'SCHED_FLAG_RECLAIM' | 'SCHED_FLAG_DL_OVERRUN'
  | 'SCHED_FLAG_KEEP_POLICY' | 'SCHED_FLAG_KEEP_PARAMS' | 'SCHED_FLAG_UTIL_CLAMP_MIN'
  | 'SCHED_FLAG_UTIL_CLAMP_MAX';
export const SCHEDULER_FLAGS: readonly SchedulerFlag[] = [
  'SCHED_FLAG_RESET_ON_FORK', 'SCHED_FLAG_RECLAIM', 'SCHED_FLAG_DL_OVERRUN',
  'SCHED_FLAG_KEEP_POLICY', 'SCHED_FLAG_KEEP_PARAMS', 'SCHED_FLAG_UTIL_CLAMP_MIN',
  'SCHED_FLAG_UTIL_CLAMP_MAX',
];

/** sched_setattr(2) attributes. */
export interface Scheduler {
  policy: SchedulerPolicy;
  nice?: number;
  priority?: number;
  flags?: SchedulerFlag[];
  /** Nanoseconds (SCHED_DEADLINE). */
  runtime?: number;
  deadline?: number;
  period?: number;
}

export type IoPriorityClass = 'IOPRIO_CLASS_RT' | 'IOPRIO_CLASS_BE' | 'IOPRIO_CLASS_IDLE';
export const IO_PRIORITY_CLASSES: readonly IoPriorityClass[] = [
  'IOPRIO_CLASS_RT', 'IOPRIO_CLASS_BE', 'IOPRIO_CLASS_IDLE',
];

export interface IoPriority {
  class: IoPriorityClass;
  /** 0 (highest) to 7 (lowest). */
  priority: number;
}

/** CPU lists in cpuset syntax (`0-3,7`) for `exec`: before and after joining the cgroup. */
export interface CpuAffinity {
  initial?: string;
  final?: string;
}

// ---- root, mounts, hooks (config.md) ----

export interface Root {
  /** Absolute, or relative to the bundle directory. */
  path: string;
  readonly?: boolean;
}

export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
}

export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  /** Seconds; greater than zero when set. */
  timeout?: number;
}

export interface Hooks {
  /** Deprecated by the spec in favour of createRuntime/createContainer/startContainer. */
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

export type HookName = keyof Hooks;
export const HOOK_NAMES: readonly HookName[] = [
  'prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop',
];

// ---- vm (config-vm.md) ----

export interface Vm {
  hypervisor?: VmHypervisor;
  kernel: VmKernel;
  image?: VmImage;
}

export interface VmHypervisor {
  path: string;
  parameters?: string[];
}

export interface VmKernel {
  path: string;
  parameters?: string[];
  initrd?: string;
}

export interface VmImage {
  path: string;
  /** Commonly raw, qcow2, vdi, vmdk, vhd. */
  format: string;
}

// ---- state (runtime.md "State") ----

/** The spec's four states, plus runc's `paused` (a frozen cgroup). */
export type ContainerStatus = 'creating' | 'created' | 'running' | 'stopped' | 'paused';
export const CONTAINER_STATUSES: readonly ContainerStatus[] = [
  'creating', 'created', 'running', 'stopped', 'paused',
];

export interface State {
  ociVersion: string;
  id: string;
  status: ContainerStatus;
  /** Required on Linux when `created` or `running`. */
  pid?: number;
  /** Absolute path of the bundle directory. */
  bundle: string;
  annotations?: Record<string, string>;
}

/** What the runtime sends to a seccomp agent over `listenerPath` (config-linux.md). */
export interface ContainerProcessState {
  ociVersion: string;
  fds?: string[];
  pid: number;
  metadata?: string;
  state: State;
}
