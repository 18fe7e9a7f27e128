/**
 * A unix socket's path must fit sun_path (108 bytes, unix(7)); a container directory under a
 * long store root does not. /proc/self/fd/<dirfd>/<name> always fits and names the same file.
 */
import { closeSync, openSync, constants } from 'node:fs';

export function withShortSocketPath<T>(dir: string, name: string, fn: (path: string) => T): T {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    return fn(`/proc/self/fd/${fd}/${name}`);
  } finally {
    closeSync(fd);
  }
}

/** Keeps the directory fd open until `release` (for asynchronous connects). */
export function shortSocketPath(dir: string, name: string): { path: string; release(): void } {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  return { path: `/proc/self/fd/${fd}/${name}`, release: () => closeSync(fd) };
}
