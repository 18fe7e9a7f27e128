/**
 * The cgroup manager: one container's cgroup across every hierarchy of the host
 * (cgroups(7); runtime-spec config-linux.md "Control groups").
 *
 * Lifecycle, as a runtime drives it: create() → join(initPid) → apply(resources) → … →
 * update(resources) / freeze() / thaw() / stats() … → (caller kills every process) →
 * destroy(). newCgroupManager (detect.ts) picks the driver for the host.
 */

import type { Resources } from '../oci/runtime-spec.js';
import type { CgroupStats } from './stats.js';

export type { CgroupStats } from './stats.js';

/**
 * - unified: pure cgroup v2 (/sys/fs/cgroup is cgroup2);
 * - hybrid: v1 controllers plus a cgroup2 mount (usually /sys/fs/cgroup/unified) that only
 *   tracks processes (and holds the few controllers not bound to v1);
 * - legacy: v1 only.
 */
export type CgroupMode = 'unified' | 'hybrid' | 'legacy';

export interface CgroupManager {
  readonly mode: CgroupMode;

  /** mkdir the container's cgroup in every hierarchy it uses; existing directories are kept. */
  create(): void;

  /** Moves a process (all its threads) into the cgroup in every hierarchy, incl. name=systemd and v2. */
  join(pid: number): void;

  /** Applies resource limits; throws ERR_CGROUP_RESOURCES before any write for invalid values. */
  apply(resources: Resources): void;

  /** apply() on a live cgroup; honours memory.checkBeforeUpdate. */
  update(resources: Resources): void;

  stats(): CgroupStats;

  /** Every process in the cgroup and its descendants. */
  pids(): number[];

  /** Freezes every process and waits until the kernel reports the cgroup frozen. */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  frozen(): boolean;

  /** Processes killed by the OOM killer in this cgroup (v1 memory.oom_control, v2 memory.events). */
  oomKillCount(): number;

  /**
   * rmdir the cgroup (and any sub-cgroups the container made) in every hierarchy, retrying
   * briefly on EBUSY; a missing directory is not an error. The caller kills processes first.
   */
  destroy(): Promise<void>;

  /** Controller (`cpu`, `name=systemd`, `unified` for the v2 directory) → absolute directory. */
  paths(): Record<string, string>;
}
