/**
 * Cgroup work on a container that exists only as a state record: list its processes and remove
 * its cgroups. Works from the recorded directories, so it is right whatever cgroup the runtime
 * itself runs in now.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeCgroupDirs } from './container-cgroup.js';
import type { ContainerRecord } from './state-store.js';

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function pidsUnder(dir: string): number[] {
  let pids: number[] = [];
  try {
    pids = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) pids = pids.concat(pidsUnder(join(dir, e.name)));
    }
  } catch {
    // gone
  }
  return pids;
}

/** The directory that best lists the container's processes. */
function processDir(record: ContainerRecord): string | undefined {
  const p = record.cgroupPaths;
  return p['unified'] ?? p['pids'] ?? p['memory'] ?? p['freezer'] ?? Object.values(p)[0];
}

export function recordedPids(record: ContainerRecord): number[] {
  const dir = processDir(record);
  return dir === undefined ? [] : [...new Set(pidsUnder(dir))];
}

/** Thaws the container's cgroup if frozen: a frozen task dies of SIGKILL only once thawed. */
export function thawRecorded(record: ContainerRecord): void {
  const v1 = record.cgroupPaths['freezer'];
  const v2 = record.cgroupPaths['unified'];
  try {
    if (v1 !== undefined) writeFileSync(join(v1, 'freezer.state'), 'THAWED');
    else if (v2 !== undefined) writeFileSync(join(v2, 'cgroup.freeze'), '0');
  } catch {
    // no freezer, or already gone
  }
}

/** Kills whatever is left in the container's cgroups, then removes them. */
export function destroyRecordedCgroup(record: ContainerRecord): Promise<void> {
  const freezer = record.cgroupPaths['freezer'];
  for (let round = 0; round < 100; round++) {
    const pids = recordedPids(record);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    // Frozen tasks die only once thawed (v1 freezer).
    if (freezer !== undefined) {
      try {
        if (readFileSync(join(freezer, 'freezer.state'), 'utf8').trim() !== 'THAWED') {
          writeFileSync(join(freezer, 'freezer.state'), 'THAWED');
        }
      } catch {
        // no freezer
      }
    }
    sleepMs(5);
  }
  removeCgroupDirs(record.cgroupPaths, record.cgroupsPath, record.id);
  return Promise.resolve();
}
