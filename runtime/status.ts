/**
 * A container's status (runtime-spec runtime.md "State"), derived on every call from the
 * process itself so it stays true when the init dies or is killed from outside:
 * creating (create not finished), created (init waits on the exec fifo), running, paused
 * (cgroup frozen), stopped (init gone or a zombie).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerStatus } from '../oci/runtime-spec.js';
import type { ContainerRecord, StateStore } from './state-store.js';
import { isAlive } from './process-info.js';

/** Reads the freezer state straight from the recorded cgroup directories. */
export function isFrozen(record: ContainerRecord): boolean {
  const v1 = record.cgroupPaths['freezer'];
  try {
    if (v1 !== undefined) return readFileSync(join(v1, 'freezer.state'), 'utf8').trim() === 'FROZEN';
    const v2 = record.cgroupPaths['unified'];
    if (v2 !== undefined) return /^frozen 1$/m.test(readFileSync(join(v2, 'cgroup.events'), 'utf8'));
  } catch {
    return false;
  }
  return false;
}

export function containerStatus(store: StateStore, record: ContainerRecord): ContainerStatus {
  const alive = isAlive(record.pid, record.pidStartTime);
  if (record.phase === 'creating') return alive || record.pid === 0 ? 'creating' : 'stopped';
  if (!alive) return 'stopped';
  // a frozen container is paused whether or not it was started (runc reports it so)
  if (isFrozen(record)) return 'paused';
  if (existsSync(store.fifoPath(record.id))) return 'created';
  return 'running';
}
