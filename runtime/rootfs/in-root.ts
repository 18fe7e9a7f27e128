/**
 * Path operations confined to a container root (openat2(2) RESOLVE_IN_ROOT). A symlink in the
 * image that points to `/etc` resolves to `<rootfs>/etc`, never the host's: mount destinations
 * cannot be redirected out of the rootfs (CVE-2021-30465 class).
 */
import {
  AT_EMPTY_PATH, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_NOFOLLOW, O_PATH, O_RDONLY, RESOLVE_IN_ROOT,
  RESOLVE_NO_MAGICLINKS, RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS,
} from '../../sys/constants.js';
import type { Syscalls } from '../../sys/syscalls.js';
import { isErrno, SyscallError } from '../../sys/syscall-error.js';

const IN_ROOT = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

/** Splits `/a/b/../c` into clean components; `..` cannot climb above the root. */
export function components(path: string): string[] {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out;
}

export function openInRoot(sys: Syscalls, rootfd: number, path: string, flags: number): number {
  const rel = components(path).join('/') || '.';
  return sys.openat2(rootfd, rel, flags | O_CLOEXEC, 0, IN_ROOT);
}

/** Opens `path` (O_PATH) if it exists inside the root, else returns undefined. */
export function lookupInRoot(sys: Syscalls, rootfd: number, path: string): number | undefined {
  try {
    return openInRoot(sys, rootfd, path, O_PATH);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

/**
 * mkdir -p inside the root; returns an O_PATH fd of the directory. A symlink on the way is
 * followed inside the root (its target directories are created there, as runc's MkdirAllInRoot
 * does), so `/escape -> /host/path` yields `<rootfs>/host/path`, never a host directory.
 */
export function mkdirAllInRoot(sys: Syscalls, rootfd: number, path: string, mode = 0o755): number {
  let pending = components(path);
  let done: string[] = [];
  let fd = openInRoot(sys, rootfd, '/', O_PATH | O_DIRECTORY);
  let links = 0;
  try {
    while (pending.length > 0) {
      const name = pending[0] ?? '.';
      const prefix = [...done, name].join('/');
      let next: number | undefined;
      try {
        next = openInRoot(sys, rootfd, prefix, O_PATH | O_NOFOLLOW);
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
      if (next === undefined) {
        try {
          sys.mkdirat(fd, name, mode);
        } catch (err) {
          if (!isErrno(err, 'EEXIST')) throw err;
        }
        next = openInRoot(sys, rootfd, prefix, O_PATH | O_NOFOLLOW);
      }
      let target: string | undefined;
      try {
        target = sys.readlinkat(next, '');
      } catch (err) {
        if (!isErrno(err, 'EINVAL') && !isErrno(err, 'ENOENT')) {
          sys.close(next);
          throw err;
        }
      }
      if (target !== undefined) {
        // A symlink: continue from its target, resolved inside the root.
        sys.close(next);
        if (++links > 40) throw new SyscallError('mkdirat', 40, `mkdir \`${path}\``, path);
        pending = [...components(target.startsWith('/') ? target : [...done, target].join('/')), ...pending.slice(1)];
        done = [];
        const top = openInRoot(sys, rootfd, '/', O_PATH | O_DIRECTORY);
        sys.close(fd);
        fd = top;
        continue;
      }
      sys.close(fd);
      fd = next;
      done.push(name);
      pending = pending.slice(1);
    }
    // the walk ended on something that must be a directory
    const dir = openInRoot(sys, rootfd, done.join('/') || '/', O_PATH | O_DIRECTORY);
    sys.close(fd);
    return dir;
  } catch (err) {
    sys.close(fd);
    throw err;
  }
}

/** Creates an empty regular file (mount point for a file bind) inside the root if missing. */
export function ensureFileInRoot(sys: Syscalls, rootfd: number, path: string): number {
  const existing = lookupInRoot(sys, rootfd, path);
  if (existing !== undefined) return existing;
  const parts = components(path);
  const name = parts.pop();
  if (name === undefined) return openInRoot(sys, rootfd, '/', O_PATH);
  const dirfd = mkdirAllInRoot(sys, rootfd, parts.join('/'));
  try {
    const fd = sys.openat2(dirfd, name, O_CREAT | O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0o644, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
    sys.close(fd);
  } finally {
    sys.close(dirfd);
  }
  return openInRoot(sys, rootfd, path, O_PATH);
}

/** The fd-relative empty path used with AT_EMPTY_PATH calls. */
export const EMPTY = '';
export { AT_EMPTY_PATH };
