/**
 * Directory lifecycle shared by the v1 and v2 drivers: creating the path below a mount point,
 * removing a cgroup tree, listing its processes, polling the kernel for a state change.
 *
 * A cgroup directory can be removed with rmdir(2) only when it has no processes and no child
 * cgroups (cgroups(7)); processes that were just killed can keep it busy (EBUSY) for a moment.
 */

import { dirname, relative, sep } from 'node:path';
import { KapselError } from '../common/errors.js';
import { cgroupFsError, CgroupDir } from './cgroup-dir.js';
import { errnoCode, sleepMs, type CgroupFs } from './cgroup-fs.js';

/**
 * mkdir each missing directory from below `mountPoint` down to `dir`; returns the ones this
 * call created, top-down. `dir` must be inside `mountPoint` (checked by the path resolver).
 */
export function mkdirBelow(fs: CgroupFs, mountPoint: string, dir: string): string[] {
  const rel = relative(mountPoint, dir);
  if (rel === '') return [];
  if (rel.startsWith('..')) throw new KapselError('ERR_CGROUP_PATH', `cgroup \`${dir}\` is outside \`${mountPoint}\``);
  const created: string[] = [];
  let cur = mountPoint;
  for (const part of rel.split(sep)) {
    cur = `${cur}${sep}${part}`;
    try {
      if (fs.mkdir(cur)) created.push(cur);
    } catch (err) {
      throw cgroupFsError('ERR_CGROUP_MKDIR', 'mkdir', `create cgroup \`${cur}\``, cur, err);
    }
  }
  return created;
}

/** The directories strictly between `mountPoint` (included) and `dir` (excluded), top-down. */
export function ancestorsBelow(mountPoint: string, dir: string): string[] {
  const out: string[] = [];
  for (let cur = dirname(dir); cur.length >= mountPoint.length; cur = dirname(cur)) {
    out.unshift(cur);
    if (cur === mountPoint || cur === dirname(cur)) break;
  }
  return out;
}

/** Back-off between rmdir attempts on EBUSY: about 0.6 s in all. */
const RMDIR_RETRY_MS = [10, 20, 40, 80, 160, 320];

async function rmdirRetrying(fs: CgroupFs, dir: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      fs.rmdir(dir);
      return;
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') return;
      const delay = RMDIR_RETRY_MS[attempt];
      if (code !== 'EBUSY' || delay === undefined) {
        throw cgroupFsError('ERR_CGROUP_RMDIR', 'rmdir', `remove cgroup \`${dir}\``, dir, err);
      }
      await sleepMs(delay);
    }
  }
}

/** Removes `dir` and every cgroup below it, deepest first. */
export async function removeCgroupTree(fs: CgroupFs, dir: string): Promise<void> {
  for (const entry of fs.list(dir)) {
    if (entry.isDirectory) await removeCgroupTree(fs, `${dir}${sep}${entry.name}`);
  }
  await rmdirRetrying(fs, dir);
}

/** Process ids in cgroup.procs of `dir` and all its descendants. */
export function readPidsRecursive(fs: CgroupFs, dir: string): number[] {
  const cg = new CgroupDir(dir, fs);
  const pids: number[] = [];
  for (const line of (cg.readIfExists('cgroup.procs') ?? '').split('\n')) {
    const pid = Number(line.trim());
    if (line.trim() !== '' && Number.isInteger(pid)) pids.push(pid);
  }
  for (const entry of fs.list(dir)) {
    if (entry.isDirectory) pids.push(...readPidsRecursive(fs, `${dir}${sep}${entry.name}`));
  }
  return pids;
}

/**
 * Calls `step` until it returns true or `timeoutMs` passes; `step` may re-issue the request
 * (freezing rewrites FROZEN). Resolves to whether the state was reached.
 */
export async function pollUntil(step: () => boolean, timeoutMs: number, intervalMs = 10): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (step()) return true;
    if (Date.now() >= deadline) return false;
    await sleepMs(intervalMs);
  }
}
