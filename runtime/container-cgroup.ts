/**
 * Connects the cgroups library to the runtime: one CgroupManager per container, plus what the
 * rootfs needs to show the container its own cgroups under a `cgroup` mount.
 */
import { rmdirSync } from 'node:fs';
import { newCgroupManager } from '../cgroups/detect.js';
import type { CgroupManager } from '../cgroups/manager.js';
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

export function openContainerCgroup(cgroupsPath: string, id: string): ContainerCgroup {
  const manager = newCgroupManager({ cgroupsPath, id });
  return Object.assign(manager, {
    destroySync(): void {
      // Deepest first is not needed: each entry is the container's own leaf directory.
      for (const dir of Object.values(manager.paths())) {
        for (let attempt = 0; attempt < 50; attempt++) {
          try {
            rmdirSync(dir);
            break;
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code === 'ENOENT') break;
            if (code !== 'EBUSY' || attempt === 49) throw err;
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
          }
        }
      }
    },
    mountHierarchies(): CgroupHierarchyMount[] {
      return hierarchiesFromPaths(manager.paths(), manager.mode === 'unified');
    },
  });
}
