/**
 * A container's own copy of its image's root filesystem. The image is unpacked once per
 * manifest into <store>/rootfs-cache/<digest>/ (into a temp directory, renamed into place, so a
 * half-unpacked tree is never used), and each container gets a `cp -a` of it: a native copy of
 * an unpacked tree is much cheaper than unpacking the layers again. Copy-on-write snapshots
 * (overlayfs) replace this once the image store has them; the cache is derived data, removed
 * with `rm -rf <store>/rootfs-cache`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { KapselError } from '../common/errors.js';
import type { ContentStore } from '../images/store.js';
import { unpackImage, type ResolvedImage } from '../images/image.js';
import type { Syscalls } from '../sys/syscalls.js';

export async function copyImageRootfs(sys: Syscalls, storeRoot: string, store: ContentStore, image: ResolvedImage, rootfs: string): Promise<void> {
  const cacheRoot = join(storeRoot, 'rootfs-cache');
  const cached = join(cacheRoot, image.manifestDescriptor.digest.replace(':', '-'));
  if (!existsSync(cached)) {
    mkdirSync(cacheRoot, { recursive: true, mode: 0o700 });
    const tmp = join(cacheRoot, `.tmp-${randomBytes(6).toString('hex')}`);
    mkdirSync(tmp, { mode: 0o755 });
    try {
      await unpackImage(store, image, tmp, { syscalls: sys });
      try {
        renameSync(tmp, cached);
      } catch {
        // another run cached it first
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  // cp -a keeps owners, modes, times, links, device nodes and xattrs; `/.` copies the contents
  const r = spawnSync('cp', ['-a', `${cached}/.`, rootfs], { encoding: 'utf8' });
  if (r.status !== 0) throw new KapselError('ERR_ROOTFS_COPY', `copy the root filesystem of \`${image.name}\` into \`${rootfs}\`: ${r.stderr.trim() || r.error?.message}`);
}
