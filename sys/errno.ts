/**
 * errno numbers and names for x86_64 Linux (asm-generic/errno-base.h, asm-generic/errno.h).
 * Used to turn a raw errno into `EPERM (operation not permitted)` and back.
 */

const NAMES: Record<number, [string, string]> = {
  1: ['EPERM', 'operation not permitted'],
  2: ['ENOENT', 'no such file or directory'],
  3: ['ESRCH', 'no such process'],
  4: ['EINTR', 'interrupted system call'],
  5: ['EIO', 'input/output error'],
  6: ['ENXIO', 'no such device or address'],
  7: ['E2BIG', 'argument list too long'],
  8: ['ENOEXEC', 'exec format error'],
  9: ['EBADF', 'bad file descriptor'],
  10: ['ECHILD', 'no child processes'],
  11: ['EAGAIN', 'resource temporarily unavailable'],
  12: ['ENOMEM', 'cannot allocate memory'],
  13: ['EACCES', 'permission denied'],
  14: ['EFAULT', 'bad address'],
  15: ['ENOTBLK', 'block device required'],
  16: ['EBUSY', 'device or resource busy'],
  17: ['EEXIST', 'file exists'],
  18: ['EXDEV', 'invalid cross-device link'],
  19: ['ENODEV', 'no such device'],
  20: ['ENOTDIR', 'not a directory'],
  21: ['EISDIR', 'is a directory'],
  22: ['EINVAL', 'invalid argument'],
  23: ['ENFILE', 'too many open files in system'],
  24: ['EMFILE', 'too many open files'],
  25: ['ENOTTY', 'inappropriate ioctl for device'],
  26: ['ETXTBSY', 'text file busy'],
  27: ['EFBIG', 'file too large'],
  28: ['ENOSPC', 'no space left on device'],
  29: ['ESPIPE', 'illegal seek'],
  30: ['EROFS', 'read-only file system'],
  31: ['EMLINK', 'too many links'],
  32: ['EPIPE', 'broken pipe'],
  34: ['ERANGE', 'numerical result out of range'],
  36: ['ENAMETOOLONG', 'file name too long'],
  38: ['ENOSYS', 'function not implemented'],
  39: ['ENOTEMPTY', 'directory not empty'],
  40: ['ELOOP', 'too many levels of symbolic links'],
  61: ['ENODATA', 'no data available'],
  95: ['EOPNOTSUPP', 'operation not supported'],
  98: ['EADDRINUSE', 'address already in use'],
  110: ['ETIMEDOUT', 'connection timed out'],
  111: ['ECONNREFUSED', 'connection refused'],
};

const BY_NAME = new Map<string, number>(Object.entries(NAMES).map(([n, [name]]) => [name, Number(n)]));

/** `EPERM` for 1; `E123` for numbers not in the table. */
export function errnoName(errno: number): string {
  return NAMES[errno]?.[0] ?? `E${errno}`;
}

/** `EPERM (operation not permitted)`. */
export function errnoDescription(errno: number): string {
  const entry = NAMES[errno];
  return entry ? `${entry[0]} (${entry[1]})` : `errno ${errno}`;
}

export function errnoNumber(name: string): number | undefined {
  return BY_NAME.get(name);
}

export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const EAGAIN = 11;
export const EACCES = 13;
export const EBUSY = 16;
export const EEXIST = 17;
export const EINVAL = 22;
export const ENOSYS = 38;
export const ENOTEMPTY = 39;
