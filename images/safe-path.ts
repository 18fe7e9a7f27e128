/**
 * Resolving layer entry paths inside an unpack target without ever leaving it.
 *
 * An entry name is cleaned lexically first (cleanEntryPath): a leading `/` is dropped (as GNU
 * tar and containerd do, `/etc/passwd` means `<root>/etc/passwd`), `.` and empty components go,
 * and a `..` that would climb above the root is refused. The parent directories are then
 * walked one component at a time with lstat(2) (RootResolver.resolveDir): a symlink met on the
 * way is read and its target resolved as if `<root>` were `/` (an absolute target restarts at
 * the root, `..` stops at the root) — the semantics of openat2(2) RESOLVE_IN_ROOT and of
 * filepath-securejoin, so `a -> /etc` followed by `a/passwd` writes `<root>/etc/passwd`. The
 * final component is never followed: callers lstat it and replace what is there.
 *
 * For a layer unpacked alone for overlay, a component missing from the target is looked up in
 * the lower layers as overlayfs merges them (a MergedLowers): a lower symlink is followed the same
 * way, a lower directory is taken (and, when creating, copied up into the target).
 *
 * The walk trusts that nothing but the unpacker changes the target while it runs (the target is
 * a fresh private directory); within one layer the entries are applied strictly in order, so a
 * hostile archive cannot race its own path checks.
 */

import { lstatSync, mkdirSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';

/** Linux follows at most 40 symlinks in one lookup (MAXSYMLINKS, path_resolution(7)). */
const MAX_SYMLINKS = 40;

/** A path problem with a reason that reads after the entry name (`path escapes the root`). */
export class UnsafePathError extends Error {
  readonly reason: string;
  readonly errnoCode: string;
  constructor(reason: string, errnoCode = 'EINVAL') {
    super(reason);
    this.name = 'UnsafePathError';
    this.reason = reason;
    this.errnoCode = errnoCode;
  }
}

/** `name` as components below the root; [] is the root itself. Throws UnsafePathError. */
export function cleanEntryPath(name: string): string[] {
  if (name.includes('\0')) throw new UnsafePathError('path contains a NUL byte');
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) throw new UnsafePathError('path escapes the root');
      out.pop();
    } else {
      out.push(part);
    }
  }
  return out;
}

/** The layers below the target, merged (overlay-lowers.ts). */
export interface MergedLowers {
  /** What the lower layers show at `real`, a path the target does not hold. */
  lookup(real: readonly string[]): { readonly path: string; readonly stats: Stats } | undefined;
  /** Creates directory `real` in the target as a copy of the lower one (its parent exists). */
  copyUpDirectory(real: readonly string[], from: { readonly path: string; readonly stats: Stats }): void;
}

export class RootResolver {
  /** Absolute, symlink-free path of the target directory. */
  readonly root: string;
  private readonly lowers: MergedLowers | undefined;
  private readonly cache = new Map<string, readonly string[]>();

  constructor(root: string, lowers?: MergedLowers) {
    this.root = root;
    this.lowers = lowers;
  }

  /** The absolute host path of resolved components. */
  abs(real: readonly string[]): string {
    return real.length === 0 ? this.root : join(this.root, ...real);
  }

  /** Forget resolved directories; call after anything in the tree is removed or replaced. */
  invalidate(): void {
    this.cache.clear();
  }

  /**
   * Resolves `components` (already cleaned) to the components of a real directory inside the
   * root, following symlinks inside the root. Missing directories are created (mode 0755) when
   * `create`, else the result is undefined. A non-directory on the way is an UnsafePathError.
   * With lower layers, a directory only they hold is copied up when `create`; without, the
   * result may name directories that exist in a lower layer only.
   */
  resolveDir(components: readonly string[], create: boolean): readonly string[] | undefined {
    const key = components.join('/');
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const real: string[] = [];
    const queue = [...components];
    let links = 0;
    /** A directory on the way is held by a lower layer only (not copied up): do not cache. */
    let lowerOnly = false;
    while (queue.length > 0) {
      const part = queue.shift() as string;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        real.pop(); // at the root, `..` is the root
        continue;
      }
      let path = join(this.root, ...real, part);
      let st = lstatSync(path, { throwIfNoEntry: false });
      const lower = st === undefined ? this.lowers?.lookup([...real, part]) : undefined;
      if (lower !== undefined) {
        if (lower.stats.isDirectory()) {
          if (create) this.lowers?.copyUpDirectory([...real, part], lower);
          else lowerOnly = true;
          real.push(part);
          continue;
        }
        path = lower.path;
        st = lower.stats;
      }
      if (st === undefined) {
        if (!create) return undefined;
        mkdirSync(path, 0o755);
        real.push(part);
      } else if (st.isSymbolicLink()) {
        if (++links > MAX_SYMLINKS) throw new UnsafePathError('too many levels of symbolic links', 'ELOOP');
        const target = readlinkSync(path);
        if (target.startsWith('/')) real.length = 0;
        queue.unshift(...target.split('/'));
      } else if (st.isDirectory()) {
        real.push(part);
      } else {
        throw new UnsafePathError(`\`/${[...real, part].join('/')}\` is not a directory`, 'ENOTDIR');
      }
    }
    if (!lowerOnly) this.cache.set(key, real);
    return real;
  }
}
