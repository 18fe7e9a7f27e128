/**
 * Test support for root tests on the real cgroup2 mount (/sys/fs/cgroup on a unified host,
 * /sys/fs/cgroup/unified on a hybrid one): v2-driver managers below one parent cgroup the test
 * owns, `/<parent>/<name>`, and the clean-up that removes them and the parent and checks it.
 */

import { existsSync, rmdirSync } from 'node:fs';
import { detectCgroupHost, newCgroupManager, type CgroupHost, type NewCgroupManagerOptions } from './detect.js';
import type { CgroupManager } from './manager.js';

export interface UnifiedTestCgroups {
  readonly host: CgroupHost | undefined;
  /** Why the tests cannot run here (not root, no cgroup2 mount), or false. */
  readonly skip: string | false;
  readonly mountPoint: string;
  /** The parent cgroup's name, directly below the mount point. */
  readonly parent: string;
  /** A created v2 manager for `/<parent>/<name>`, destroyed by `cleanup()`. */
  create(name: string, opts?: Partial<NewCgroupManagerOptions>): CgroupManager;
  /** Destroys every manager, removes the parent; throws if the parent is still there. */
  cleanup(): Promise<void>;
}

/** `parent` must be unique to the test file and run (include the pid). */
export function unifiedTestCgroups(parent: string): UnifiedTestCgroups {
  const host = (() => {
    try {
      return detectCgroupHost();
    } catch {
      return undefined;
    }
  })();
  const mountPoint = host?.v2?.mountPoint ?? '/sys/fs/cgroup';
  const managers: CgroupManager[] = [];
  return {
    host,
    skip: process.getuid?.() !== 0 ? 'needs root' : host?.v2 === undefined ? 'needs a cgroup2 mount' : false,
    mountPoint,
    parent,
    create(name, opts = {}) {
      const m = newCgroupManager({ ...opts, cgroupsPath: `/${parent}/${name}`, id: name, mode: 'unified' });
      managers.push(m);
      m.create();
      return m;
    },
    async cleanup() {
      for (const m of managers.splice(0)) await m.destroy().catch(() => {});
      // a cgroup left below the parent makes this rmdir fail (ENOTEMPTY): the test fails
      if (existsSync(`${mountPoint}/${parent}`)) rmdirSync(`${mountPoint}/${parent}`);
    },
  };
}
