/**
 * Reading a file of an unpacked image (its /etc/passwd, /etc/group) without leaving the
 * rootfs: every symlink on the way, the last component included, is resolved as if the rootfs
 * were `/` (safe-path.ts), so an image whose /etc/passwd is a symlink to `/etc/shadow` yields
 * the image's own /etc/shadow, never the host's.
 */

import { constants as fsc, closeSync, fstatSync, lstatSync, openSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { KapselError } from '../common/errors.js';
import { parseGroup, parsePasswd, type GroupEntry, type PasswdEntry } from './passwd.js';
import { RootResolver, UnsafePathError, cleanEntryPath } from './safe-path.js';

const MAX_SYMLINKS = 40;
/** passwd/group files larger than this are refused rather than read into memory. */
const MAX_FILE_BYTES = 16 * 1024 * 1024;

/** The content of `path` inside `rootfs`, or undefined when it does not exist (or is not a file). */
export function readFileInRoot(rootfs: string, path: string): Buffer | undefined {
  const resolver = new RootResolver(realpathSync(rootfs));
  let parts = cleanEntryPath(path);
  for (let links = 0; ; links++) {
    if (links > MAX_SYMLINKS) throw new UnsafePathError('too many levels of symbolic links', 'ELOOP');
    const name = parts[parts.length - 1];
    if (name === undefined) return undefined;
    let parent: readonly string[] | undefined;
    try {
      parent = resolver.resolveDir(parts.slice(0, -1), false);
    } catch (err) {
      if (err instanceof UnsafePathError && err.errnoCode === 'ENOTDIR') return undefined;
      throw err;
    }
    if (parent === undefined) return undefined;
    const abs = resolver.abs([...parent, name]);
    const st = lstatSync(abs, { throwIfNoEntry: false });
    if (st === undefined) return undefined;
    if (!st.isSymbolicLink()) return st.isFile() ? readRegular(abs) : undefined;
    const target = readlinkSync(abs);
    // a relative target is relative to the link's directory; `..` stops at the root
    parts = target.startsWith('/') ? cleanInRoot(target.split('/')) : cleanInRoot([...parent, ...target.split('/')]);
  }
}

function cleanInRoot(components: readonly string[]): string[] {
  const out: string[] = [];
  for (const c of components) {
    if (c === '' || c === '.') continue;
    if (c === '..') out.pop();
    else out.push(c);
  }
  return out;
}

function readRegular(path: string): Buffer | undefined {
  const fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return undefined;
    if (st.size > MAX_FILE_BYTES) throw new KapselError('ERR_IMAGE_INVALID', `\`${path}\`: ${st.size} bytes is too large for a user database`);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

export interface ImageUserDb {
  readonly passwd?: PasswdEntry[];
  readonly group?: GroupEntry[];
}

/** The image's /etc/passwd and /etc/group, parsed; a missing file is an absent field. */
export function readImageUserDb(rootfs: string): ImageUserDb {
  const passwd = readFileInRoot(rootfs, '/etc/passwd');
  const group = readFileInRoot(rootfs, '/etc/group');
  return {
    ...(passwd !== undefined && { passwd: parsePasswd(passwd.toString('utf8')) }),
    ...(group !== undefined && { group: parseGroup(group.toString('utf8')) }),
  };
}
