/**
 * The lower layers of a layer being unpacked for overlay (unpack.ts `whiteouts: 'overlay'` with
 * `lowers`), seen as overlayfs will merge them (Documentation/filesystems/overlayfs.rst).
 *
 * A layer's entry names mean paths in the image as built so far (image-spec layer.md; docker and
 * containerd apply each layer onto the mounted parent snapshots), but the layer is unpacked into
 * a directory of its own. Two things then need the layers below:
 *   - a parent directory that comes from a lower layer: a symlink there (`lib -> usr/lib`) must
 *     be followed, as in the merged tree, not shadowed by a new directory; a real directory is
 *     created in this layer as overlayfs's copy-up would (same mode, owner, xattrs and times);
 *   - a hard link whose target is a file of a lower layer: link(2) cannot cross layers, so the
 *     target is copied up into this layer (content, mode, owner, xattrs, times) and linked there.
 *     In the merged tree both names then show the target's content, as after a copy-up.
 * Since a snapshot then depends on the layers below it, snapshots are keyed by chain ID.
 *
 * Lookup rule (overlayfs): the upper-most layer holding a path wins; a 0/0 character device
 * (whiteout) hides the path below; an opaque directory (`trusted.overlay.opaque=y`) or a
 * non-directory at an ancestor hides everything of the layers below under it.
 */

import { copyFileSync, constants as fsc, lchownSync, lstatSync, lutimesSync, chmodSync, mkdirSync, readlinkSync, symlinkSync, utimesSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { AT_FDCWD } from '../sys/constants.js';
import { isErrno } from '../sys/syscall-error.js';
import type { Syscalls } from '../sys/syscalls.js';

const OPAQUE_XATTR = 'trusted.overlay.opaque';

/** lgetxattr(2) and llistxattr(2) (the Syscalls, or a fake in tests). */
export type XattrReader = Pick<Syscalls, 'lgetxattr' | 'llistxattr'>;

/** A path as a lower layer holds it. */
export interface LowerEntry {
  readonly path: string;
  readonly stats: Stats;
}

export interface OverlayLowersOptions {
  /** The directory of the layer being unpacked (the future upper-most of these layers). */
  readonly top: string;
  /** The snapshot directories below it, lowest first. */
  readonly lowers: readonly string[];
  /** Reads the lower layers' xattrs (opaque directories, and the xattrs a copy-up keeps). */
  readonly xattrReader: XattrReader;
  /** Writes xattrs and device nodes in the top layer. */
  readonly sys: Pick<Syscalls, 'lsetxattr' | 'mknodat'>;
  /** Copy-ups keep the lower owner (lchown). */
  readonly chown: boolean;
}

function lstatQuiet(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

export function isOverlayWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

export class OverlayLowers {
  private readonly top: string;
  /** Lower layers, upper-most first. */
  private readonly lowers: readonly string[];
  private readonly xattrs: XattrReader;
  private readonly sys: Pick<Syscalls, 'lsetxattr' | 'mknodat'>;
  private readonly chown: boolean;

  constructor(opts: OverlayLowersOptions) {
    this.top = opts.top;
    this.lowers = [...opts.lowers].reverse();
    this.xattrs = opts.xattrReader;
    this.sys = opts.sys;
    this.chown = opts.chown;
  }

  private opaque(path: string): boolean {
    try {
      return this.xattrs.lgetxattr(path, OPAQUE_XATTR).toString() === 'y';
    } catch (err) {
      if (isErrno(err, 'ENODATA') || isErrno(err, 'ENOTSUP') || isErrno(err, 'EOPNOTSUPP')) return false;
      throw err;
    }
  }

  /**
   * `real` in one layer. Its ancestors are checked one by one with lstat(2), so no symlink of
   * this layer is followed: a layer whose ancestor is missing does not hold the path; one whose
   * ancestor is a non-directory, or whose ancestor directory is opaque (and which does not hold
   * the path itself), hides the layers below; a whiteout hides the path.
   */
  private inLayer(layer: string, real: readonly string[]): LowerEntry | 'absent' | 'hidden' {
    let opaque = false;
    for (let i = 1; i < real.length; i++) {
      const ancestor = join(layer, ...real.slice(0, i));
      const st = lstatQuiet(ancestor);
      if (st === undefined) return 'absent';
      if (!st.isDirectory()) return 'hidden';
      opaque ||= this.opaque(ancestor);
    }
    const path = join(layer, ...real);
    const stats = lstatQuiet(path);
    if (stats === undefined) return opaque ? 'hidden' : 'absent';
    return isOverlayWhiteout(stats) ? 'hidden' : { path, stats };
  }

  /**
   * What the lower layers show at `real` (components of a path whose ancestors are directories
   * in the merged tree), given that the top layer does not hold it; undefined when no lower
   * layer does or it is hidden by a whiteout, an opaque directory or a non-directory above it.
   */
  lookup(real: readonly string[]): LowerEntry | undefined {
    if (real.length === 0) return undefined;
    for (const layer of [this.top, ...this.lowers]) {
      const found = this.inLayer(layer, real);
      if (found === 'hidden') return undefined;
      if (found !== 'absent') return layer === this.top ? undefined : found;
    }
    return undefined;
  }

  /** Copies the xattrs of `from` to `to`, but overlayfs's own (the copy is not opaque). */
  private copyXattrs(from: string, to: string): void {
    for (const name of this.xattrs.llistxattr(from)) {
      if (name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.')) continue;
      this.sys.lsetxattr(to, name, this.xattrs.lgetxattr(from, name), 0);
    }
  }

  /**
   * Creates directory `to` in the top layer with the owner and xattrs of the lower one; its mode
   * and times are the caller's to set once the layer's entries below it are written.
   */
  copyUpDirectory(from: LowerEntry, to: string): void {
    mkdirSync(to, 0o700);
    if (this.chown) lchownSync(to, from.stats.uid, from.stats.gid);
    this.copyXattrs(from.path, to);
  }

  /** Copies a lower non-directory (file, symlink, device, fifo) to `to` in the top layer. */
  copyUpFile(from: LowerEntry, to: string): void {
    const st = from.stats;
    if (st.isSymbolicLink()) symlinkSync(readlinkSync(from.path), to);
    else if (st.isFile()) copyFileSync(from.path, to, fsc.COPYFILE_EXCL);
    else this.sys.mknodat(AT_FDCWD, to, st.mode, st.rdev);
    // the order unpack-entry.ts keeps: owner, xattrs, mode (chown clears setuid bits), times
    if (this.chown) lchownSync(to, st.uid, st.gid);
    this.copyXattrs(from.path, to);
    if (st.isSymbolicLink()) {
      lutimesSync(to, st.atime, st.mtime);
    } else {
      chmodSync(to, st.mode & 0o7777);
      utimesSync(to, st.atime, st.mtime);
    }
  }
}
