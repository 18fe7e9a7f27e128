/**
 * Test support for the cgroup root tests (cgroups/*.root.test.ts, runtime/device-filter):
 * the host as detected, test processes, and on the real cgroup2 mount (/sys/fs/cgroup on a
 * unified host, /sys/fs/cgroup/unified on a hybrid one) v2-driver managers below one parent
 * cgroup the test owns, `/<parent>/<name>`, with the clean-up that removes them and checks it.
 */

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmdirSync } from 'node:fs';
import { sleepMs } from './cgroup-fs.js';
import { detectCgroupHost, newCgroupManager, type CgroupHost, type NewCgroupManagerOptions } from './detect.js';
import type { CgroupManager } from './manager.js';

/** This host's cgroup layout, or undefined where it cannot be read. */
export const testHost: CgroupHost | undefined = (() => {
  try {
    return detectCgroupHost();
  } catch {
    return undefined;
  }
})();

/** A shell that waits for a line on stdin, burns a little CPU, then execs `cmd`. */
export function spawnWaiting(cmd: string): ChildProcess {
  const script = `read line; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec ${cmd}`;
  return spawn('/bin/sh', ['-c', script], { stdio: ['pipe', 'ignore', 'ignore'] });
}

export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Polls `check` every 10 ms, up to 5 s. */
export async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await sleepMs(10);
  }
  assert.fail(`timed out waiting for ${what}`);
}

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
  const host = testHost;
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
