/**
 * Mount option strings of runtime-spec config.md "Mounts" and mount(8), split into what each
 * mechanism takes: mount(2)-style flags, per-mount attributes for mount_setattr(2) (with the
 * recursive `r*` variants of runtime-spec 1.1), propagation, and filesystem data for fsconfig(2).
 */
import {
  MS_BIND, MS_DIRSYNC, MS_LAZYTIME, MS_MANDLOCK, MS_NOATIME, MS_NODEV, MS_NODIRATIME, MS_NOEXEC,
  MS_NOSUID, MS_NOSYMFOLLOW, MS_PRIVATE, MS_RDONLY, MS_REC, MS_RELATIME, MS_REMOUNT, MS_SHARED,
  MS_SILENT, MS_SLAVE, MS_STRICTATIME, MS_SYNCHRONOUS, MS_UNBINDABLE,
} from '../sys/constants.js';
import { KapselError } from '../common/errors.js';

// mount_setattr(2) attribute bits (include/uapi/linux/mount.h)
export const MOUNT_ATTR_RDONLY = 0x1;
export const MOUNT_ATTR_NOSUID = 0x2;
export const MOUNT_ATTR_NODEV = 0x4;
export const MOUNT_ATTR_NOEXEC = 0x8;
export const MOUNT_ATTR__ATIME = 0x70;
export const MOUNT_ATTR_RELATIME = 0x0;
export const MOUNT_ATTR_NOATIME = 0x10;
export const MOUNT_ATTR_STRICTATIME = 0x20;
export const MOUNT_ATTR_NODIRATIME = 0x80;
export const MOUNT_ATTR_NOSYMFOLLOW = 0x200000;

/** [set, clear] mount(2) flag pairs. */
const FLAGS: Readonly<Record<string, readonly [number, number]>> = {
  async: [0, MS_SYNCHRONOUS],
  atime: [0, MS_NOATIME],
  bind: [MS_BIND, 0],
  defaults: [0, 0],
  dev: [0, MS_NODEV],
  diratime: [0, MS_NODIRATIME],
  dirsync: [MS_DIRSYNC, 0],
  exec: [0, MS_NOEXEC],
  lazytime: [MS_LAZYTIME, 0],
  loud: [0, MS_SILENT],
  mand: [MS_MANDLOCK, 0],
  noatime: [MS_NOATIME, 0],
  nodev: [MS_NODEV, 0],
  nodiratime: [MS_NODIRATIME, 0],
  noexec: [MS_NOEXEC, 0],
  nolazytime: [0, MS_LAZYTIME],
  nomand: [0, MS_MANDLOCK],
  norelatime: [0, MS_RELATIME],
  nostrictatime: [0, MS_STRICTATIME],
  nosuid: [MS_NOSUID, 0],
  nosymfollow: [MS_NOSYMFOLLOW, 0],
  rbind: [MS_BIND | MS_REC, 0],
  relatime: [MS_RELATIME, 0],
  remount: [MS_REMOUNT, 0],
  ro: [MS_RDONLY, 0],
  rw: [0, MS_RDONLY],
  silent: [MS_SILENT, 0],
  strictatime: [MS_STRICTATIME, 0],
  suid: [0, MS_NOSUID],
  sync: [MS_SYNCHRONOUS, 0],
};

const PROPAGATION: Readonly<Record<string, number>> = {
  private: MS_PRIVATE,
  rprivate: MS_PRIVATE | MS_REC,
  shared: MS_SHARED,
  rshared: MS_SHARED | MS_REC,
  slave: MS_SLAVE,
  rslave: MS_SLAVE | MS_REC,
  unbindable: MS_UNBINDABLE,
  runbindable: MS_UNBINDABLE | MS_REC,
};

/** Recursive attribute options (runtime-spec 1.1 "rro", "rnosuid", ...): [set, clear]. */
const RECURSIVE: Readonly<Record<string, readonly [number, number]>> = {
  rro: [MOUNT_ATTR_RDONLY, 0],
  rrw: [0, MOUNT_ATTR_RDONLY],
  rnosuid: [MOUNT_ATTR_NOSUID, 0],
  rsuid: [0, MOUNT_ATTR_NOSUID],
  rnodev: [MOUNT_ATTR_NODEV, 0],
  rdev: [0, MOUNT_ATTR_NODEV],
  rnoexec: [MOUNT_ATTR_NOEXEC, 0],
  rexec: [0, MOUNT_ATTR_NOEXEC],
  rnodiratime: [MOUNT_ATTR_NODIRATIME, 0],
  rdiratime: [0, MOUNT_ATTR_NODIRATIME],
  rrelatime: [MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME],
  rnorelatime: [0, MOUNT_ATTR__ATIME],
  rnoatime: [MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME],
  ratime: [0, MOUNT_ATTR__ATIME],
  rstrictatime: [MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME],
  rnostrictatime: [0, MOUNT_ATTR__ATIME],
  rnosymfollow: [MOUNT_ATTR_NOSYMFOLLOW, 0],
  rsymfollow: [0, MOUNT_ATTR_NOSYMFOLLOW],
};

export interface MountAttr {
  readonly set: number;
  readonly clear: number;
}

export interface ParsedMountOptions {
  /** mount(2) flags (MS_*) requested. */
  readonly flags: number;
  /** Propagation change for the mount (MS_SHARED | MS_REC ...), 0 for none. */
  readonly propagation: number;
  /** Attributes for the top mount (from flags), for mount_setattr/fsmount. */
  readonly attr: MountAttr;
  /** Attributes applied recursively (r* options). */
  readonly recursiveAttr: MountAttr;
  /** Filesystem-specific options for fsconfig(2): `key` or `key=value`, in order. */
  readonly data: readonly string[];
}

/** mount(2) flags to mount_setattr attributes for a bind or new mount. */
export function flagsToAttr(flags: number): MountAttr {
  let set = 0;
  let clear = 0;
  if (flags & MS_RDONLY) set |= MOUNT_ATTR_RDONLY;
  if (flags & MS_NOSUID) set |= MOUNT_ATTR_NOSUID;
  if (flags & MS_NODEV) set |= MOUNT_ATTR_NODEV;
  if (flags & MS_NOEXEC) set |= MOUNT_ATTR_NOEXEC;
  if (flags & MS_NODIRATIME) set |= MOUNT_ATTR_NODIRATIME;
  if (flags & MS_NOSYMFOLLOW) set |= MOUNT_ATTR_NOSYMFOLLOW;
  if (flags & MS_NOATIME) { set |= MOUNT_ATTR_NOATIME; clear |= MOUNT_ATTR__ATIME; }
  else if (flags & MS_STRICTATIME) { set |= MOUNT_ATTR_STRICTATIME; clear |= MOUNT_ATTR__ATIME; }
  else if (flags & MS_RELATIME) { clear |= MOUNT_ATTR__ATIME; }
  return { set, clear };
}

export function parseMountOptions(options: readonly string[], what: string): ParsedMountOptions {
  let flags = 0;
  let propagation = 0;
  let rset = 0;
  let rclear = 0;
  const data: string[] = [];
  for (const opt of options) {
    const f = Object.hasOwn(FLAGS, opt) ? FLAGS[opt] : undefined;
    if (f) {
      flags = (flags | f[0]) & ~f[1];
      continue;
    }
    const p = Object.hasOwn(PROPAGATION, opt) ? PROPAGATION[opt] : undefined;
    if (p !== undefined) {
      propagation = p;
      continue;
    }
    const r = Object.hasOwn(RECURSIVE, opt) ? RECURSIVE[opt] : undefined;
    if (r) {
      // clear first, then set: an atime option clears the whole atime field and sets one value
      rset = (rset & ~r[1]) | r[0];
      rclear = (rclear & ~r[0]) | r[1];
      continue;
    }
    if (opt === 'idmap' || opt === 'ridmap') {
      throw new KapselError('ERR_UNSUPPORTED', `mount ${what}: option \`${opt}\` is not supported yet`);
    }
    if (opt === 'tmpcopyup') continue; // crun's extension for tmpfs: nothing to copy on an empty tmpfs
    data.push(opt);
  }
  return { flags, propagation, attr: flagsToAttr(flags), recursiveAttr: { set: rset, clear: rclear }, data };
}
