/**
 * How the container rootfs reaches the guest (measured, README "MicroVM isolation"): small
 * trees travel inside the initramfs (no image to build, no block driver, writable, held in
 * guest RAM); trees of RootfsMode `auto`'s threshold and more become an ext4 image (`mke2fs -d`,
 * sparse, with room to write; ext4 is built into Debian's cloud kernel) on a virtio-blk disk.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { KapselError } from '../common/errors.js';

export type RootfsMode = 'initramfs' | 'ext4' | 'auto';
export const AUTO_BLOCK_THRESHOLD = 64 * 1024 * 1024;

export function parseRootfsMode(value: string | undefined): RootfsMode {
  if (value === undefined || value === '') return 'auto';
  if (value === 'initramfs' || value === 'ext4' || value === 'auto') return value;
  throw new KapselError('ERR_CONFIG_INVALID', `unknown VM rootfs mode \`${value}\``, { hint: 'use initramfs, ext4 or auto' });
}

/** Bytes of regular files under dir, counting stops once `limit` is passed. */
export function treeBytes(dir: string, limit = Number.POSITIVE_INFINITY): number {
  let total = 0;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (total > limit) return;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) total += lstatSync(p).size;
    }
  };
  walk(realpathSync(dir));
  return total;
}

export function chooseRootfsMode(mode: RootfsMode, dir: string): 'initramfs' | 'ext4' {
  if (mode !== 'auto') return mode;
  return treeBytes(dir, AUTO_BLOCK_THRESHOLD) > AUTO_BLOCK_THRESHOLD ? 'ext4' : 'initramfs';
}

/** A sparse ext4 image of dir: its size plus half again plus 256 MiB of room. */
export function buildExt4Image(dir: string, out: string): void {
  const used = treeBytes(dir);
  const kib = Math.ceil((used * 1.5) / 1024) + 256 * 1024;
  const r = spawnSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', realpathSync(dir), out, `${kib}k`], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) {
    throw new KapselError('ERR_VM_ROOTFS', `build an ext4 image of \`${dir}\`: ${r.error?.message ?? r.stderr.trim()}`, { hint: 'install e2fsprogs' });
  }
}
