/**
 * The resource limits a cgroup manager applies: a local mirror of runtime-spec's
 * `linux.resources` (config-linux.md, "Control groups").
 *
 * Every field is optional and accepts `undefined`, so the oci/ types (written separately) are
 * assignable to these whatever their optionality. Numbers are JSON numbers; `-1` means
 * "unlimited" where the spec says so.
 */

/** config-linux.md "Allowed Device Listing": one rule, applied in list order. */
export interface LinuxDeviceCgroup {
  readonly allow: boolean;
  /** `a` (all, the default), `c` (char) or `b` (block). */
  readonly type?: string | undefined;
  /** Omitted or -1 is the wildcard `*`. */
  readonly major?: number | undefined;
  readonly minor?: number | undefined;
  /** Any of `r`, `w`, `m`; omitted means `rwm`. */
  readonly access?: string | undefined;
}

/** config-linux.md "Memory". Bytes; `swap` is memory+swap (the v1 memsw meaning). */
export interface LinuxMemory {
  readonly limit?: number | undefined;
  readonly reservation?: number | undefined;
  readonly swap?: number | undefined;
  /** Deprecated by the kernel (5.16 removed kmem limits): ignored with a debug note. */
  readonly kernel?: number | undefined;
  readonly kernelTCP?: number | undefined;
  readonly swappiness?: number | undefined;
  readonly disableOOMKiller?: boolean | undefined;
  readonly useHierarchy?: boolean | undefined;
  /** On update, refuse a limit below the current usage. */
  readonly checkBeforeUpdate?: boolean | undefined;
}

/** config-linux.md "CPU". Microseconds for quota/period/burst/realtime. */
export interface LinuxCpu {
  readonly shares?: number | undefined;
  readonly quota?: number | undefined;
  readonly burst?: number | undefined;
  readonly period?: number | undefined;
  readonly realtimeRuntime?: number | undefined;
  readonly realtimePeriod?: number | undefined;
  /** cpuset list syntax: `0-3,6`. */
  readonly cpus?: string | undefined;
  readonly mems?: string | undefined;
  /** 1 puts the cgroup in SCHED_IDLE. */
  readonly idle?: number | undefined;
}

export interface LinuxPids {
  /** 0 or -1 means unlimited (`max`). */
  readonly limit?: number | undefined;
}

export interface LinuxWeightDevice {
  readonly major: number;
  readonly minor: number;
  readonly weight?: number | undefined;
  readonly leafWeight?: number | undefined;
}

export interface LinuxThrottleDevice {
  readonly major: number;
  readonly minor: number;
  /** Bytes or operations per second; 0 removes the limit. */
  readonly rate: number;
}

/** config-linux.md "Block IO". Weights are 10..1000 (the v1 range). */
export interface LinuxBlockIO {
  readonly weight?: number | undefined;
  readonly leafWeight?: number | undefined;
  readonly weightDevice?: readonly LinuxWeightDevice[] | undefined;
  readonly throttleReadBpsDevice?: readonly LinuxThrottleDevice[] | undefined;
  readonly throttleWriteBpsDevice?: readonly LinuxThrottleDevice[] | undefined;
  readonly throttleReadIOPSDevice?: readonly LinuxThrottleDevice[] | undefined;
  readonly throttleWriteIOPSDevice?: readonly LinuxThrottleDevice[] | undefined;
}

/** config-linux.md "Huge page limits": `pageSize` like `2MB`, `1GB`. */
export interface LinuxHugepageLimit {
  readonly pageSize: string;
  readonly limit: number;
}

export interface LinuxInterfacePriority {
  readonly name: string;
  readonly priority: number;
}

export interface LinuxNetwork {
  readonly classID?: number | undefined;
  readonly priorities?: readonly LinuxInterfacePriority[] | undefined;
}

export interface LinuxResources {
  readonly devices?: readonly LinuxDeviceCgroup[] | undefined;
  readonly memory?: LinuxMemory | undefined;
  readonly cpu?: LinuxCpu | undefined;
  readonly pids?: LinuxPids | undefined;
  readonly blockIO?: LinuxBlockIO | undefined;
  readonly hugepageLimits?: readonly LinuxHugepageLimit[] | undefined;
  readonly network?: LinuxNetwork | undefined;
  /** cgroup v2 `file: value` pairs written verbatim (config-linux.md "Unified"). */
  readonly unified?: Readonly<Record<string, string>> | undefined;
}
