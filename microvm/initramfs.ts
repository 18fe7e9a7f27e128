/**
 * The guest's initramfs: kapsel's guest init as /init, its policy as /kapsel/config, the kernel
 * modules it loads from /kapsel/modules/, and (when the rootfs travels in the initramfs) the
 * container rootfs under /rootfs. An extra initrd (vm.kernel.initrd) goes first: the kernel
 * unpacks concatenated archives in order.
 */
import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, writeSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CpioWriter, S_IFDIR, S_IFREG, type CpioEntry } from './cpio.js';
import type { GuestModule } from './modules.js';

export interface InitramfsInput {
  /** Host path of the static guest init binary. */
  readonly init: string;
  readonly config: Buffer;
  readonly modules: readonly GuestModule[];
  /** Container rootfs directory to pack under `rootfs/`. */
  readonly rootfsDir?: string;
  /** An initrd to put before ours. */
  readonly prepend?: string;
  readonly compression: 'none' | 'gzip';
}

export interface InitramfsResult {
  readonly bytes: number;
  readonly entries: number;
}

/** Module paths inside the initramfs, in load order. */
export function moduleGuestPath(m: GuestModule): string {
  return `/kapsel/modules/${m.name}.ko`;
}

function entryFor(name: string, st: Stats, data?: Uint8Array): CpioEntry {
  return {
    name,
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    mtime: Math.floor(st.mtimeMs / 1000),
    ...(data !== undefined ? { data } : {}),
    ...(st.isCharacterDevice() || st.isBlockDevice() ? { rdevMajor: Number((BigInt(st.rdev) >> 8n) & 0xfffn), rdevMinor: Number((BigInt(st.rdev) & 0xffn) | ((BigInt(st.rdev) >> 12n) & 0xfff00n)) } : {}),
  };
}

/** Adds a directory tree (lstat: symlinks stay symlinks; sockets are skipped). */
export function addTree(w: CpioWriter, dir: string, prefix: string): void {
  const walk = (host: string, name: string): void => {
    const st = lstatSync(host);
    if (st.isDirectory()) {
      w.add(entryFor(name, st));
      for (const child of readdirSync(host).sort()) walk(join(host, child), `${name}/${child}`);
    } else if (st.isFile()) {
      w.add(entryFor(name, st, readFileSync(host)));
    } else if (st.isSymbolicLink()) {
      w.add(entryFor(name, st, Buffer.from(readlinkSync(host))));
    } else if (!st.isSocket()) {
      w.add(entryFor(name, st));
    }
  };
  walk(dir, prefix);
}

export function buildInitramfs(input: InitramfsInput, outPath: string): InitramfsResult {
  const w = new CpioWriter();
  const dir = (name: string): CpioEntry => ({ name, mode: S_IFDIR | 0o755 });
  w.add(dir('kapsel')).add(dir('kapsel/modules'));
  w.add({ name: 'init', mode: S_IFREG | 0o755, data: readFileSync(input.init) });
  w.add({ name: 'kapsel/config', mode: S_IFREG | 0o600, data: input.config });
  for (const m of input.modules) w.add({ name: moduleGuestPath(m).slice(1), mode: S_IFREG | 0o644, data: readFileSync(m.hostPath) });
  if (input.rootfsDir !== undefined) addTree(w, realpathSync(input.rootfsDir), 'rootfs');
  else w.add(dir('rootfs'));
  const parts = w.finish();
  const fd = openSync(outPath, 'w', 0o600);
  let bytes = 0;
  try {
    const writeAll = (b: Uint8Array): void => {
      let off = 0;
      while (off < b.length) off += writeSync(fd, b, off);
      bytes += b.length;
    };
    if (input.prepend !== undefined) writeAll(readFileSync(input.prepend));
    if (input.compression === 'gzip') writeAll(gzipSync(Buffer.concat(parts), { level: 1 }));
    else for (const p of parts) writeAll(p);
  } finally {
    closeSync(fd);
  }
  return { bytes, entries: parts.length };
}
