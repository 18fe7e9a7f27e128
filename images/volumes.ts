/**
 * Anonymous volumes for an image's `Volumes` (image-spec config.md "Volumes": directories the
 * container writes that are not part of its root filesystem's layers). As docker does, each
 * gets a fresh directory, here `<containerDir>/volumes/<n>`, seeded with what the image has at
 * that path, and bind-mounted there (to-bundle.ts `volumes`). The seed is copied only when the
 * path is reached inside the root through real directories alone: a symlink on the way
 * (possibly pointing out of the root) leaves the volume empty, and the runtime resolves the
 * mount destination inside the root anyway.
 */

import { chmodSync, chownSync, cpSync, lstatSync, mkdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import { KapselError } from '../common/errors.js';
import type { ImageConfig } from './oci-types.js';

export interface VolumeMount {
  readonly destination: string;
  readonly source: string;
}

/** The image's volume paths, cleaned, absolute, deduplicated, in sorted order. */
export function imageVolumePaths(config: ImageConfig): string[] {
  const out = new Set<string>();
  for (const raw of Object.keys(config.config?.Volumes ?? {})) {
    const path = posix.normalize(`/${raw}`).replace(/\/+$/, '');
    if (path === '' || path === '/') throw new KapselError('ERR_IMAGE_INVALID', `image volume \`${raw}\`: cannot be the root directory`);
    out.add(path);
  }
  return [...out].sort();
}

/** Creates and seeds the volume directories; returns the bind mounts for the spec. */
export function prepareImageVolumes(config: ImageConfig, containerDir: string, rootfs: string): VolumeMount[] {
  return imageVolumePaths(config).map((destination, i) => {
    const source = join(containerDir, 'volumes', String(i));
    mkdirSync(source, { recursive: true, mode: 0o755 });
    const seed = realDirectoryInside(rootfs, destination);
    if (seed !== undefined) {
      const st = lstatSync(seed);
      cpSync(seed, source, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true, force: true });
      chmodSync(source, st.mode & 0o7777);
      if (process.geteuid?.() === 0) chownSync(source, st.uid, st.gid);
    }
    return { destination, source };
  });
}

/** `rootfs + path` when every component is a real directory (no symlink followed), else undefined. */
function realDirectoryInside(rootfs: string, path: string): string | undefined {
  let current = rootfs;
  for (const part of path.split('/').filter((p) => p !== '')) {
    current = join(current, part);
    const st = lstatSync(current, { throwIfNoEntry: false });
    if (st === undefined || !st.isDirectory()) return undefined;
  }
  return current;
}
