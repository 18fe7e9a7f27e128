/**
 * Walks a RootfsPlan inside the container's mount namespace (the caller has done
 * unshare(CLONE_FS) and setns(CLONE_NEWNS) on this thread). Every mount is made on an fd
 * resolved inside the root (openat2 RESOLVE_IN_ROOT) with the new mount API, so no path is
 * looked up twice and none escapes the rootfs. Filesystems whose instance depends on the
 * caller's namespaces (proc, sysfs, mqueue, cgroup, tmpfs in a user namespace) are fsopen'd by
 * the container init and configured here (see native/stage.c FSOPEN).
 */
import { readFileSync, statSync } from 'node:fs';
import {
  AT_EMPTY_PATH, AT_RECURSIVE, FSMOUNT_CLOEXEC, MNT_DETACH, MOVE_MOUNT_F_EMPTY_PATH, MS_BIND, MS_MOVE,
  MS_PRIVATE, MS_REC, MS_SLAVE, O_CLOEXEC, O_DIRECTORY, O_NOCTTY, O_PATH, O_RDWR, OPEN_TREE_CLOEXEC, OPEN_TREE_CLONE,
  S_IFMT, S_IFCHR, TIOCGPTN, TIOCSPTLCK,
} from '../../sys/constants.js';
import type { Syscalls } from '../../sys/syscalls.js';
import { isErrno } from '../../sys/syscall-error.js';
import { KapselError, wrapError } from '../../common/errors.js';
import { flagsToAttr, MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC } from '../mount-options.js';
import type { MountStep, RootfsPlan } from './plan.js';
import { components, ensureFileInRoot, lookupInRoot, mkdirAllInRoot, openInRoot } from './in-root.js';

const MOVE_MOUNT_T_EMPTY_PATH = 0x40;

/** A cgroup hierarchy to show inside the container under a `cgroup` mount. */
export interface CgroupHierarchyMount {
  /** Directory name under the mount point (`memory`, `systemd`, or '' for a v2-only host). */
  readonly dir: string;
  readonly fsType: 'cgroup' | 'cgroup2';
  /** fsconfig options: controllers (`memory`) or `name=systemd`. */
  readonly options: readonly string[];
  /** The container's cgroup directory on the host (bound when there is no cgroup namespace). */
  readonly hostPath: string;
}

export interface RootfsEnv {
  readonly sys: Syscalls;
  /** fsopen(2) done by the container init, so the instance belongs to its namespaces. */
  readonly fsopenInContainer: (fstype: string) => number;
  readonly cgroupHierarchies: readonly CgroupHierarchyMount[];
  readonly cgroupNamespace: boolean;
}

export interface RootfsResult {
  /** O_PATH fd of the container root for the init's chroot (switchRoot move/chroot), else undefined. */
  readonly rootFd: number | undefined;
  /** Terminal master and slave when plan.console. */
  readonly console: { readonly master: number; readonly slave: number } | undefined;
}

function configure(sys: Syscalls, fsfd: number, data: readonly string[], source: string): void {
  if (source !== '') sys.fsconfigSetString(fsfd, 'source', source);
  for (const opt of data) {
    const eq = opt.indexOf('=');
    if (eq < 0) sys.fsconfigSetFlag(fsfd, opt);
    else sys.fsconfigSetString(fsfd, opt.slice(0, eq), opt.slice(eq + 1));
  }
  sys.fsconfigCreate(fsfd);
}

/** Mounts a new filesystem instance of `type` on `destfd`. */
function mountNew(env: RootfsEnv, type: string, source: string, data: readonly string[], attrSet: number, destfd: number, inContainer: boolean): void {
  const { sys } = env;
  const fsfd = inContainer ? env.fsopenInContainer(type) : sys.fsopen(type, 1);
  try {
    configure(sys, fsfd, data, source);
    const mfd = sys.fsmount(fsfd, FSMOUNT_CLOEXEC, attrSet);
    try {
      sys.moveMount(mfd, '', destfd, '', MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
    } finally {
      sys.close(mfd);
    }
  } finally {
    sys.close(fsfd);
  }
}

/** Clones the tree at `source` (host path or fd) onto `destfd`, with attributes set on the clone. */
function bindOnto(sys: Syscalls, source: string | number, recursive: boolean, attrSet: number, attrClr: number, recursiveAttr: { set: number; clear: number }, destfd: number): void {
  const flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0);
  const tree = typeof source === 'number' ? sys.openTree(source, '', flags | AT_EMPTY_PATH) : sys.openTree(-100, source, flags);
  try {
    if (attrSet !== 0 || attrClr !== 0) sys.mountSetattr(tree, '', AT_EMPTY_PATH, attrSet, attrClr, 0);
    if (recursiveAttr.set !== 0 || recursiveAttr.clear !== 0) {
      sys.mountSetattr(tree, '', AT_EMPTY_PATH | AT_RECURSIVE, recursiveAttr.set, recursiveAttr.clear, 0);
    }
    sys.moveMount(tree, '', destfd, '', MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
  } finally {
    sys.close(tree);
  }
}

function sourceIsDir(source: string): boolean {
  try {
    return statSync(source).isDirectory();
  } catch {
    throw new KapselError('ERR_MOUNT', `mount source \`${source}\` does not exist`);
  }
}

function mountCgroups(env: RootfsEnv, rootfd: number, m: MountStep): void {
  const { sys } = env;
  const attr = flagsToAttr(m.options.flags);
  const v2Only = env.cgroupHierarchies.length === 1 && env.cgroupHierarchies[0]?.dir === '';
  if (!v2Only) {
    // v1 and hybrid hosts: a tmpfs holding one directory per hierarchy, as runc lays it out.
    const dest = mkdirAllInRoot(sys, rootfd, m.destination);
    try {
      mountNew(env, 'tmpfs', 'tmpfs', ['mode=755'], attr.set & ~MOUNT_ATTR_RDONLY, dest, false);
    } finally {
      sys.close(dest);
    }
  }
  for (const h of env.cgroupHierarchies) {
    const dest = mkdirAllInRoot(sys, rootfd, h.dir === '' ? m.destination : `${m.destination}/${h.dir}`);
    try {
      if (env.cgroupNamespace) mountNew(env, h.fsType, h.fsType, h.options, attr.set, dest, true);
      else bindOnto(sys, h.hostPath, false, attr.set, attr.clear, { set: 0, clear: 0 }, dest);
    } finally {
      sys.close(dest);
    }
  }
  if (!v2Only && attr.set & MOUNT_ATTR_RDONLY) {
    const dest = openInRoot(sys, rootfd, m.destination, O_PATH);
    try {
      sys.mountSetattr(dest, '', AT_EMPTY_PATH, MOUNT_ATTR_RDONLY, 0, 0);
    } finally {
      sys.close(dest);
    }
  }
}

function applyMount(env: RootfsEnv, plan: RootfsPlan, rootfd: number, m: MountStep, inUserNs: boolean): void {
  const { sys } = env;
  if (m.type === 'cgroup' || (m.type === 'cgroup2' && env.cgroupHierarchies.length > 0)) {
    mountCgroups(env, rootfd, m);
    return;
  }
  const isDir = m.bind ? sourceIsDir(m.source) : true;
  const dest = isDir ? mkdirAllInRoot(sys, rootfd, m.destination) : ensureFileInRoot(sys, rootfd, m.destination);
  try {
    if (m.bind) {
      bindOnto(sys, m.source, m.recursive, m.options.attr.set, m.options.attr.clear, m.options.recursiveAttr, dest);
    } else {
      const attr = m.options.attr.set | m.options.recursiveAttr.set;
      try {
        mountNew(env, m.type, m.source, m.options.data, attr, dest, true);
      } catch (err) {
        // sysfs cannot be mounted in a user namespace that does not own the network namespace:
        // show the host's read-only instead, as runc does.
        if (m.type === 'sysfs' && inUserNs && isErrno(err, 'EPERM')) {
          bindOnto(sys, '/sys', true, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, 0, { set: 0, clear: 0 }, dest);
        } else throw err;
      }
    }
    if (m.options.propagation !== 0) {
      const reopened = openInRoot(sys, rootfd, m.destination, O_PATH);
      try {
        sys.mountSetattr(reopened, '', AT_EMPTY_PATH | (m.options.propagation & MS_REC ? AT_RECURSIVE : 0), 0, 0, m.options.propagation & ~MS_REC);
      } finally {
        sys.close(reopened);
      }
    }
  } catch (err) {
    throw wrapError('ERR_MOUNT', `mount \`${m.source || m.type}\` on \`${m.destination}\` in \`${plan.rootfs}\``, err);
  } finally {
    sys.close(dest);
  }
}

function createDevices(env: RootfsEnv, plan: RootfsPlan, rootfd: number): void {
  const { sys } = env;
  for (const d of plan.devices) {
    const parts = components(d.path);
    const name = parts.pop() ?? '';
    if (plan.bindDevices) {
      const dest = ensureFileInRoot(sys, rootfd, d.path);
      try {
        bindOnto(sys, d.path, false, 0, 0, { set: 0, clear: 0 }, dest);
      } finally {
        sys.close(dest);
      }
      continue;
    }
    const dir = mkdirAllInRoot(sys, rootfd, parts.join('/'));
    try {
      try {
        sys.mknodat(dir, name, d.mode, makedev(d.major, d.minor));
      } catch (err) {
        // Like runc, a node the image already has at the path is kept.
        if (!isErrno(err, 'EEXIST')) throw wrapError('ERR_ROOTFS', `create device \`${d.path}\``, err);
        continue;
      }
      sys.fchownat(dir, name, d.uid, d.gid, 0x100 /* AT_SYMLINK_NOFOLLOW */);
    } finally {
      sys.close(dir);
    }
  }
}

/** Linux's dev_t encoding (glibc makedev). */
export function makedev(major: number, minor: number): number {
  return ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12) | (Math.floor(major / 0x1000) * 2 ** 32);
}

function createSymlinks(env: RootfsEnv, plan: RootfsPlan, rootfd: number): void {
  const { sys } = env;
  const links = [...plan.symlinks];
  if (plan.ptmxSymlink) links.push({ target: 'pts/ptmx', path: '/dev/ptmx' });
  for (const link of links) {
    const parts = components(link.path);
    const name = parts.pop() ?? '';
    const dir = mkdirAllInRoot(sys, rootfd, parts.join('/'));
    try {
      if (link.path === '/dev/ptmx') {
        try {
          sys.unlinkat(dir, name, 0);
        } catch (err) {
          if (!isErrno(err, 'ENOENT')) throw err;
        }
      }
      sys.symlinkat(link.target, dir, name);
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw wrapError('ERR_ROOTFS', `symlink \`${link.path}\``, err);
    } finally {
      sys.close(dir);
    }
  }
}

const TIOCSWINSZ = 0x5414;

function setupConsole(env: RootfsEnv, rootfd: number, size: RootfsPlan['consoleSize']): { master: number; slave: number } {
  const { sys } = env;
  const master = openInRoot(sys, rootfd, '/dev/pts/ptmx', O_RDWR | O_NOCTTY);
  sys.ioctlInt(master, TIOCSPTLCK, 0);
  if (size !== undefined) {
    // struct winsize { u16 ws_row, ws_col, ws_xpixel, ws_ypixel }
    const ws = Buffer.alloc(8);
    ws.writeUInt16LE(size.height, 0);
    ws.writeUInt16LE(size.width, 2);
    sys.ioctlBuffer(master, TIOCSWINSZ, ws);
  }
  const n = sys.ioctlInt(master, TIOCGPTN, 0);
  const slave = openInRoot(sys, rootfd, `/dev/pts/${n}`, O_RDWR | O_NOCTTY);
  // /dev/console is the terminal (runc binds the pty slave there).
  const consoleFd = ensureFileInRoot(sys, rootfd, '/dev/console');
  try {
    const slavePath = openInRoot(sys, rootfd, `/dev/pts/${n}`, O_PATH);
    try {
      bindOnto(sys, slavePath, false, 0, 0, { set: 0, clear: 0 }, consoleFd);
    } finally {
      sys.close(slavePath);
    }
  } finally {
    sys.close(consoleFd);
  }
  return { master, slave };
}

function maskPaths(env: RootfsEnv, plan: RootfsPlan, rootfd: number): void {
  const { sys } = env;
  for (const path of plan.maskedPaths) {
    const fd = lookupInRoot(sys, rootfd, path);
    if (fd === undefined) continue;
    try {
      if (isDirectoryFd(fd)) mountNew(env, 'tmpfs', 'tmpfs', ['size=0', 'mode=755'], MOUNT_ATTR_RDONLY, fd, false);
      else bindOnto(sys, '/dev/null', false, 0, 0, { set: 0, clear: 0 }, fd);
    } catch (err) {
      throw wrapError('ERR_ROOTFS', `mask \`${path}\``, err);
    } finally {
      sys.close(fd);
    }
  }
  for (const path of plan.readonlyPaths) {
    const fd = lookupInRoot(sys, rootfd, path);
    if (fd === undefined) continue;
    try {
      bindOnto(sys, fd, true, 0, 0, { set: MOUNT_ATTR_RDONLY, clear: 0 }, fd);
    } catch (err) {
      throw wrapError('ERR_ROOTFS', `make \`${path}\` read-only`, err);
    } finally {
      sys.close(fd);
    }
  }
}

function isDirectoryFd(fd: number): boolean {
  // fstat through /proc/self/fd (this thread still sees the host's /proc before pivot_root).
  const st = statSync(`/proc/self/fd/${fd}`);
  return st.isDirectory() && (st.mode & S_IFMT) !== S_IFCHR;
}

/** `beforeSwitch` runs after all mounts, before pivot_root (the createContainer hooks' moment). */
/** The mount point that holds `path` in this thread's mount namespace (longest prefix). */
export function mountPointOf(path: string, mountinfo: string): string {
  let best = '/';
  for (const line of mountinfo.split('\n')) {
    const mp = (line.split(' ')[4] ?? '').replace(/\\040/g, ' ');
    if (mp !== '' && (path === mp || path.startsWith(mp.endsWith('/') ? mp : `${mp}/`)) && mp.length > best.length) best = mp;
  }
  return best;
}

export function applyRootfs(env: RootfsEnv, plan: RootfsPlan, inUserNs: boolean, beforeSwitch: () => void = () => undefined): RootfsResult {
  const { sys } = env;
  if (plan.switchRoot !== 'chroot') {
    sys.mount(null, '/', null, plan.rootPropagation, null);
    // pivot_root(2) refuses a new root whose parent mount is shared, and an unbindable one
    // cannot be bound: make the mount holding the rootfs private, as runc does.
    const parent = mountPointOf(plan.rootfs, readFileSync('/proc/thread-self/mountinfo', 'utf8'));
    sys.mount(null, parent, null, MS_PRIVATE, null);
    sys.mount(plan.rootfs, plan.rootfs, null, MS_BIND | MS_REC, null);
  }
  const rootfd = sys.open(plan.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  let console: { master: number; slave: number } | undefined;
  try {
    for (const m of plan.mounts) applyMount(env, plan, rootfd, m, inUserNs);
    createDevices(env, plan, rootfd);
    createSymlinks(env, plan, rootfd);
    if (plan.console) console = setupConsole(env, rootfd, plan.consoleSize);
    const cwd = mkdirAllInRoot(sys, rootfd, plan.cwd);
    sys.close(cwd);
    maskPaths(env, plan, rootfd);
    if (plan.readonlyRoot) sys.mountSetattr(rootfd, '', AT_EMPTY_PATH, MOUNT_ATTR_RDONLY, 0, 0);
    beforeSwitch();
    switch (plan.switchRoot) {
      case 'pivot':
        // pivot_root(".", ".") stacks the old root under the new one; detach it (runc's trick,
        // pivot_root(2) NOTES). rslave first so the unmount cannot propagate to the host.
        sys.fchdir(rootfd);
        sys.pivotRoot('.', '.');
        sys.mount(null, '.', null, MS_SLAVE | MS_REC, null);
        sys.umount2('.', MNT_DETACH);
        sys.chdir('/');
        if (plan.finalPropagation !== 0) sys.mount(null, '/', null, plan.finalPropagation, null);
        sys.close(rootfd);
        return { rootFd: undefined, console };
      case 'move':
        sys.fchdir(rootfd);
        sys.mount(plan.rootfs, '/', null, MS_MOVE, null);
        return { rootFd: rootfd, console };
      case 'chroot':
        return { rootFd: rootfd, console };
    }
  } catch (err) {
    sys.close(rootfd);
    if (console) {
      sys.close(console.master);
      sys.close(console.slave);
    }
    throw err;
  }
}
