/**
 * Connects the cgroups library to the runtime: one CgroupManager per container, plus what the
 * rootfs needs to show the container its own cgroups under a `cgroup` mount.
 */
import { readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseCgroupsPath } from '../cgroups/cgroup-path.js';
import { newCgroupManager } from '../cgroups/detect.js';
import type { CgroupManager } from '../cgroups/manager.js';
import { DEVICE_PROGRAM_LICENSE } from '../cgroups/v2/device-bpf.js';
import type { DeviceProgramLoader } from '../cgroups/v2/devices.js';
import { attachCgroupDeviceProgram } from '../sys/bpf.js';
import type { CgroupHierarchyMount } from './rootfs/apply.js';

export interface ContainerCgroup extends CgroupManager {
  /** Synchronous rmdir of every directory (for undoing a failed create). */
  destroySync(): void;
  mountHierarchies(): CgroupHierarchyMount[];
}

export function hierarchiesFromPaths(paths: Record<string, string>, unifiedOnly: boolean): CgroupHierarchyMount[] {
  if (unifiedOnly) {
    const dir = paths['unified'] ?? Object.values(paths)[0] ?? '';
    return [{ dir: '', fsType: 'cgroup2', options: [], hostPath: dir }];
  }
  return Object.entries(paths).map(([key, hostPath]) => {
    if (key === 'unified') return { dir: 'unified', fsType: 'cgroup2' as const, options: [], hostPath };
    if (key.startsWith('name=')) return { dir: key.slice(5), fsType: 'cgroup' as const, options: [key], hostPath };
    return { dir: key, fsType: 'cgroup' as const, options: key.split(','), hostPath };
  });
}

function rmdirTree(dir: string): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) rmdirTree(join(dir, e.name));
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || attempt === 199) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}

/**
 * Removes the container's cgroup directories (and sub-cgroups it made) in every hierarchy, and
 * the default parent `/kapsel` once no container is left in it. Never touches anything else.
 */
export function removeCgroupDirs(paths: Record<string, string>, cgroupsPath: string, id: string): void {
  for (const dir of Object.values(paths)) {
    rmdirTree(dir);
    if (cgroupsPath === `/kapsel/${id}` && basename(dirname(dir)) === 'kapsel') {
      try {
        rmdirSync(dirname(dir));
      } catch {
        // other containers still use it
      }
    }
  }
}

/** bpf(2) for v2 device rules; the v2 driver calls it only on a unified host. */
export const loadAndAttachDeviceProgram: DeviceProgramLoader = (cgroupDirFd, insns) =>
  attachCgroupDeviceProgram(cgroupDirFd, insns, DEVICE_PROGRAM_LICENSE);

/** `callerPid`: a relative cgroupsPath is relative to that process's cgroups (default: ours). */
export function openContainerCgroup(cgroupsPath: string, id: string, callerPid?: number): ContainerCgroup {
  // read only for a relative path, which is rare (containerd and podman pass absolute ones)
  const procSelfCgroup = callerPid !== undefined && parseCgroupsPath(cgroupsPath).kind === 'relative' ? readFileSync(`/proc/${callerPid}/cgroup`, 'utf8') : undefined;
  const manager = newCgroupManager({ cgroupsPath, id, loadAndAttachDeviceProgram, procSelfCgroup });
  const create = manager.create.bind(manager);
  return Object.assign(manager, {
    /**
     * The default parent `/kapsel` is removed with its last container; a create racing with
     * that removal sees ENOENT half-way through mkdir -p. Creating is idempotent: try again.
     */
    create(): void {
      for (let attempt = 0; ; attempt++) {
        try {
          create();
          return;
        } catch (err) {
          if (attempt >= 4 || !/ENOENT/.test(String((err as Error).message) + String((err as Error).cause ?? ''))) throw err;
        }
      }
    },
    destroySync(): void {
      removeCgroupDirs(manager.paths(), cgroupsPath, id);
    },
    mountHierarchies(): CgroupHierarchyMount[] {
      return hierarchiesFromPaths(manager.paths(), manager.mode === 'unified');
    },
  });
}
