/**
 * Creating one tar member inside the unpack target (unpack.ts walks the archive): the file
 * types of POSIX ustar (regular, hard link, symlink, character and block device, directory,
 * fifo) with ownership, mode, xattrs and times, in the order that keeps them: chown first
 * (chown(2) clears setuid bits and security.capability), then xattrs, then mode, then times.
 * Directory modes and times are applied after the whole layer (applyDirectoryTimes), so a
 * read-only directory can still be filled and its mtime is not disturbed by its children.
 */

import {
  closeSync,
  constants as fsc,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  chmodSync,
  mkdirSync,
  openSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import type { Header } from 'tar-stream';
import { AT_FDCWD } from '../sys/constants.js';
import { isErrno } from '../sys/syscall-error.js';
import type { Syscalls } from '../sys/syscalls.js';
import { isOverlayWhiteout, type OverlayLowers } from './overlay-lowers.js';
import { UnsafePathError, cleanEntryPath, type RootResolver } from './safe-path.js';

// <sys/stat.h> file type bits for mknod(2)
const S_IFIFO = 0o010000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const PERMISSION_BITS = 0o7777;
const SUPPORTED_TYPES = new Set(['file', 'contiguous-file', 'directory', 'symlink', 'link', 'character-device', 'block-device', 'fifo']);
/** xattr failures that mean "not allowed or not supported here", not "the tree is wrong". */
const XATTR_SKIPPABLE = new Set(['EPERM', 'EACCES', 'ENOTSUP', 'EOPNOTSUPP']);

/** A member's content as tar-stream hands it over (a streamx Readable). */
export interface EntryBody extends AsyncIterable<unknown> {
  resume(): unknown;
}

/** lsetxattr(2) (Syscalls.lsetxattr, or a fake in tests). */
export interface XattrWriter {
  lsetxattr(path: string, name: string, value: Buffer, flags: number): void;
}

/**
 * xattrs a layer may not set: overlayfs reads trusted.overlay.* (opaque, redirect, metacopy,
 * origin) on its lower directories, so a layer carrying them could make the merged tree differ
 * from the one the image describes. kapsel writes trusted.overlay.opaque itself, from
 * `.wh..wh..opq` entries, when it unpacks a layer for overlay.
 */
export function isForbiddenLayerXattr(name: string): boolean {
  return name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.');
}

interface DirectoryMeta {
  readonly real: readonly string[];
  readonly mode: number;
  readonly atime: number;
  readonly mtime: number;
}

export interface EntryContext {
  readonly resolver: RootResolver;
  readonly sys: Pick<Syscalls, 'mknodat'>;
  readonly chown: boolean;
  readonly xattrs: XattrWriter | undefined;
  /** The layers below, merged, when unpacking a layer alone for overlay with its lowers. */
  readonly lowers: OverlayLowers | undefined;
  readonly notes: string[];
  /** Real paths (joined by `/`) this layer wrote, with their ancestors: whiteouts spare them. */
  readonly written: Set<string>;
  /** Directory metadata applied at the end of the layer, keyed by real path. */
  readonly directories: Map<string, DirectoryMeta>;
  /** xattrs dropped for want of an XattrWriter: counted, reported once per layer. */
  unwrittenXattrs: number;
}

/** Records `real` and its ancestors as written by this layer. */
export function markWritten(ctx: EntryContext, real: readonly string[]): void {
  for (let i = real.length; i > 0; i--) {
    const key = real.slice(0, i).join('/');
    if (ctx.written.has(key)) return;
    ctx.written.add(key);
  }
}

/** glibc's makedev(3): 12+20 bit major, 20+12 bit minor, spread over 64 bits. */
export function makedev(major: number, minor: number): number {
  return (major & 0xfff) * 0x100 + Math.floor(major / 0x1000) * 2 ** 44 + (minor & 0xff) + Math.floor(minor / 0x100) * 2 ** 20;
}

function paxRecords(header: Header): Record<string, string> | undefined {
  const pax = header.pax;
  return typeof pax === 'object' && pax !== null ? (pax as Record<string, string>) : undefined;
}

function times(header: Header): { atime: number; mtime: number } {
  const pax = paxRecords(header);
  const paxTime = (key: string): number | undefined => {
    const v = pax?.[key];
    const n = v === undefined ? Number.NaN : Number.parseFloat(v);
    return Number.isFinite(n) ? n : undefined;
  };
  const mtime = paxTime('mtime') ?? (header.mtime !== undefined ? header.mtime.getTime() / 1000 : 0);
  return { atime: paxTime('atime') ?? mtime, mtime };
}

function owner(header: Header): { uid: number; gid: number } {
  const pax = paxRecords(header);
  const uid = pax?.['uid'] !== undefined ? Number.parseInt(pax['uid'], 10) : header.uid ?? 0;
  const gid = pax?.['gid'] !== undefined ? Number.parseInt(pax['gid'], 10) : header.gid ?? 0;
  return { uid, gid };
}

/** Creates the member at cleaned path `parts`; `what` prefixes notes (`layer …: entry `x``). */
export async function applyEntry(ctx: EntryContext, parts: readonly string[], header: Header, body: EntryBody, xattrs: ReadonlyMap<string, Buffer>, what: string): Promise<void> {
  const type: string = header.type ?? 'file';
  const name = parts[parts.length - 1];
  if (name === undefined) {
    body.resume();
    if (type !== 'directory') throw new UnsafePathError('a non-directory cannot replace the root');
    return; // the target's own mode and owner stay the caller's
  }
  if (!SUPPORTED_TYPES.has(type)) {
    body.resume();
    ctx.notes.push(`${what}: skipped: unsupported tar entry type ${String(header.type)}`);
    return;
  }
  const parent = ctx.resolver.resolveDir(parts.slice(0, -1), true) as readonly string[];
  const real = [...parent, name];
  const path = ctx.resolver.abs(real);
  const linkTarget = type === 'link' ? resolveLinkTarget(ctx, header.linkname ?? '') : undefined;
  if (linkTarget === path) {
    body.resume(); // a hard link to itself: nothing to do
    return;
  }
  const existing = lstatSync(path, { throwIfNoEntry: false });
  if (existing !== undefined && !(type === 'directory' && existing.isDirectory())) {
    rmSync(path, { recursive: true, force: true });
    ctx.resolver.invalidate();
  }
  markWritten(ctx, real);
  switch (type) {
    case 'file':
    case 'contiguous-file':
      await writeRegular(ctx, path, header, body, xattrs, what);
      return;
    case 'directory':
      body.resume();
      if (existing === undefined || !existing.isDirectory()) mkdirSync(path, 0o700);
      applyOwner(ctx, path, header);
      applyXattrs(ctx, path, xattrs, what);
      ctx.directories.set(real.join('/'), { real, mode: (header.mode ?? 0o755) & PERMISSION_BITS, ...times(header) });
      return;
    case 'symlink': {
      body.resume();
      symlinkSync(header.linkname ?? '', path);
      applyOwner(ctx, path, header);
      applyXattrs(ctx, path, xattrs, what);
      const t = times(header);
      lutimesSync(path, t.atime, t.mtime);
      return;
    }
    case 'link':
      body.resume();
      linkSync(linkTarget as string, path); // link(2) never follows a symlink target
      return;
    default: // character-device, block-device, fifo
      body.resume();
      makeNode(ctx, path, header, xattrs, what);
  }
}

/**
 * A hard link's target, resolved inside the root; it must exist and not be a directory. A target
 * only a lower layer holds (unpacking for overlay) is copied up into this layer first.
 */
function resolveLinkTarget(ctx: EntryContext, linkname: string): string {
  let parts: string[];
  try {
    parts = cleanEntryPath(linkname);
  } catch (err) {
    if (err instanceof UnsafePathError) throw new UnsafePathError(`hard link target \`${linkname}\`: ${err.reason}`);
    throw err;
  }
  const name = parts[parts.length - 1];
  const parent = name === undefined ? undefined : ctx.resolver.resolveDir(parts.slice(0, -1), false);
  let path = parent === undefined || name === undefined ? undefined : ctx.resolver.abs([...parent, name]);
  let st = path === undefined ? undefined : lstatSync(path, { throwIfNoEntry: false });
  if (st !== undefined && ctx.lowers !== undefined && isOverlayWhiteout(st)) st = undefined; // deleted by this layer
  else if (st === undefined && parent !== undefined && name !== undefined && ctx.lowers !== undefined) {
    const lower = ctx.lowers.lookup([...parent, name]);
    if (lower !== undefined && !lower.stats.isDirectory()) {
      const dir = ctx.resolver.resolveDir(parts.slice(0, -1), true) as readonly string[];
      path = ctx.resolver.abs([...dir, name]);
      ctx.lowers.copyUpFile(lower, path);
      st = lower.stats;
    }
  }
  if (path === undefined || st === undefined) throw new UnsafePathError(`hard link target \`${linkname}\` does not exist inside the root`, 'ENOENT');
  if (st.isDirectory()) throw new UnsafePathError(`hard link target \`${linkname}\` is a directory`, 'EPERM');
  return path;
}

async function writeRegular(ctx: EntryContext, path: string, header: Header, body: EntryBody, xattrs: ReadonlyMap<string, Buffer>, what: string): Promise<void> {
  // O_EXCL|O_NOFOLLOW: whatever was at `path` is gone, so this creates a new inode or fails.
  const fd = openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  try {
    for await (const chunk of body) {
      const data = chunk as Buffer; // tar-stream yields Buffers
      for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
    }
    if (ctx.chown) {
      const { uid, gid } = owner(header);
      fchownSync(fd, uid, gid);
    }
    applyXattrs(ctx, path, xattrs, what);
    fchmodSync(fd, (header.mode ?? 0o644) & PERMISSION_BITS);
    const t = times(header);
    futimesSync(fd, t.atime, t.mtime);
  } finally {
    closeSync(fd);
  }
}

function makeNode(ctx: EntryContext, path: string, header: Header, xattrs: ReadonlyMap<string, Buffer>, what: string): void {
  const kind = header.type === 'fifo' ? S_IFIFO : header.type === 'block-device' ? S_IFBLK : S_IFCHR;
  const dev = kind === S_IFIFO ? 0 : makedev(header.devmajor ?? 0, header.devminor ?? 0);
  try {
    ctx.sys.mknodat(AT_FDCWD, path, kind | ((header.mode ?? 0o600) & PERMISSION_BITS), dev);
  } catch (err) {
    if (kind !== S_IFIFO && (isErrno(err, 'EPERM') || isErrno(err, 'EACCES'))) {
      ctx.notes.push(`${what}: device node skipped: mknod is not permitted here (needs CAP_MKNOD outside a user namespace)`);
      return;
    }
    throw err;
  }
  applyOwner(ctx, path, header);
  applyXattrs(ctx, path, xattrs, what);
  chmodSync(path, (header.mode ?? 0o600) & PERMISSION_BITS); // just created: not a symlink
  const t = times(header);
  utimesSync(path, t.atime, t.mtime);
}

function applyOwner(ctx: EntryContext, path: string, header: Header): void {
  if (!ctx.chown) return;
  const { uid, gid } = owner(header);
  lchownSync(path, uid, gid);
}

function applyXattrs(ctx: EntryContext, path: string, xattrs: ReadonlyMap<string, Buffer>, what: string): void {
  for (const [name, value] of xattrs) {
    if (isForbiddenLayerXattr(name)) {
      ctx.notes.push(`${what}: xattr ${name} refused: overlay metadata cannot come from a layer`);
      continue;
    }
    if (ctx.xattrs === undefined) {
      if (ctx.unwrittenXattrs++ === 0) ctx.notes.push(`${what}: xattr ${name} skipped: no xattr writer (lsetxattr) was given`);
      continue;
    }
    try {
      ctx.xattrs.lsetxattr(path, name, value, 0);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code !== 'string' || !XATTR_SKIPPABLE.has(code)) throw err;
      ctx.notes.push(`${what}: xattr ${name} skipped: ${code}${name.startsWith('security.') ? ' (security.* needs privileges this process lacks)' : ''}`);
    }
  }
}

/** Applies deferred directory modes and times, deepest first, to directories still in place. */
export function applyDirectoryTimes(ctx: EntryContext): void {
  const dirs = [...ctx.directories.values()].sort((a, b) => b.real.length - a.real.length);
  for (const d of dirs) {
    // Re-resolve: a later entry may have replaced the directory or one of its parents by a
    // symlink, and chmod/utimes follow symlinks. Only the same all-directory path is touched.
    let now: readonly string[] | undefined;
    try {
      now = ctx.resolver.resolveDir(d.real, false);
    } catch {
      continue;
    }
    if (now === undefined || now.join('/') !== d.real.join('/')) continue;
    const path = ctx.resolver.abs(d.real);
    chmodSync(path, d.mode);
    utimesSync(path, d.atime, d.mtime);
  }
  ctx.directories.clear();
}
