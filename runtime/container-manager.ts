/**
 * The CgroupManager of an existing container, rebuilt from its state record, for the verbs that
 * work on a live cgroup (pause, resume, update, events, ps) and for library callers.
 *
 * The record keeps the directories `create` made (`cgroupPaths`). newCgroupManager resolves
 * `cgroupsPath` again; for an absolute path that gives the same directories, but a relative path
 * resolves against the caller's own cgroup, which differs when this runtime runs in another
 * cgroup than the one that created the container (a different shim, a systemd unit). The
 * recorded directories win then: the manager is built on exactly those, with the mount points
 * detected now. Either way no directory outside the record is ever written.
 */
import { KapselError } from '../common/errors.js';
import { nodeCgroupFs } from '../cgroups/cgroup-fs.js';
import { detectCgroupHost, newCgroupManager } from '../cgroups/detect.js';
import type { CgroupManager } from '../cgroups/manager.js';
import { V1Manager, type V1HierarchyDir } from '../cgroups/v1/manager.js';
import { V2Manager } from '../cgroups/v2/manager.js';
import type { Syscalls } from '../sys/syscalls.js';
import { loadAndAttachDeviceProgram } from './container-cgroup.js';
import type { ContainerRecord, StateStore } from './state-store.js';

const FREEZE_TIMEOUT_MS = 5000;

export interface ContainerManagerOptions {
  readonly debug?: ((message: string) => void) | undefined;
}

function samePaths(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a).sort();
  const other = Object.keys(b).sort();
  return keys.length === other.length && keys.every((k, i) => k === other[i] && a[k] === b[k]);
}

function insideMount(dir: string, mountPoint: string): boolean {
  return dir === mountPoint || dir.startsWith(`${mountPoint.replace(/\/$/, '')}/`);
}

/** A manager on the recorded directories, for when resolving cgroupsPath now gives others. */
function managerOnRecordedPaths(record: ContainerRecord, debug: (m: string) => void): CgroupManager {
  const host = detectCgroupHost();
  const recorded = record.cgroupPaths;
  const common = { id: record.id, fs: nodeCgroupFs, debug, freezeTimeoutMs: FREEZE_TIMEOUT_MS };
  const unifiedDir = recorded['unified'];
  const unified = unifiedDir !== undefined && host.v2 !== undefined && insideMount(unifiedDir, host.v2.mountPoint)
    ? { mountPoint: host.v2.mountPoint, dir: unifiedDir }
    : undefined;
  const hierarchies: V1HierarchyDir[] = [];
  for (const h of host.v1) {
    const dir = recorded[h.controllers[0]!];
    if (dir !== undefined && insideMount(dir, h.mountPoint)) hierarchies.push({ controllers: h.controllers, mountPoint: h.mountPoint, dir });
  }
  if (hierarchies.length === 0) {
    if (unified === undefined) {
      throw new KapselError('ERR_CGROUP_PATH', `cgroup of container ${record.id}: the recorded directories are on no mounted hierarchy`);
    }
    return new V2Manager({ ...common, ...unified, loadAndAttachDeviceProgram });
  }
  return new V1Manager({ ...common, hierarchies, unified });
}

/** The manager of the container's cgroup, on the directories recorded when it was created. */
export function containerCgroupManager(record: ContainerRecord, opts: ContainerManagerOptions = {}): CgroupManager {
  if (Object.keys(record.cgroupPaths).length === 0) {
    throw new KapselError('ERR_STATE', `container ${record.id} has no cgroup yet`);
  }
  const debug = opts.debug ?? (() => {});
  const resolved = newCgroupManager({ cgroupsPath: record.cgroupsPath, id: record.id, debug, loadAndAttachDeviceProgram });
  if (samePaths(resolved.paths(), record.cgroupPaths)) return resolved;
  debug(`cgroup of ${record.id}: \`${record.cgroupsPath}\` resolves elsewhere now; using the recorded directories`);
  return managerOnRecordedPaths(record, debug);
}

/** Runs `fn` holding the container's lock across awaits (StateStore.withLockAsync). */
export function withContainerLockAsync<T>(sys: Syscalls, store: StateStore, id: string, fn: () => Promise<T>): Promise<T> {
  return store.withLockAsync(sys, id, fn);
}
