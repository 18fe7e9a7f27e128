/**
 * The real Syscalls: libc through koffi. The only file that loads the FFI library.
 * Each binding names its man page; calls that glibc 2.36 lacks go through syscall(2).
 */
import { koffi } from './ffi.js';
import { SyscallError } from './syscall-error.js';
import type { ReceivedMessage, Syscalls, WaitResult } from './syscalls.js';
import { SCM_RIGHTS, SOL_SOCKET, SYS_openat2, SYS_pivot_root, AF_UNIX, SOCK_STREAM, SOCK_CLOEXEC } from './constants.js';

function declare() {
  const libc = koffi().load('libc.so.6');
  return {
    mount: libc.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
    umount2: libc.func('int umount2(const char *target, int flags)'),
    pivotRoot: libc.func('long syscall(long nr, const char *new_root, const char *put_old)'),
    fsconfig: libc.func('int fsconfig(int fd, unsigned int cmd, const char *key, const char *value, int aux)'),
    fsmount: libc.func('int fsmount(int fd, unsigned int flags, unsigned int attr_flags)'),
    moveMount: libc.func('int move_mount(int from_dirfd, const char *from_path, int to_dirfd, const char *to_path, unsigned int flags)'),
    openTree: libc.func('int open_tree(int dirfd, const char *path, unsigned int flags)'),
    fsopen: libc.func('int fsopen(const char *fsname, unsigned int flags)'),
    mountSetattr: libc.func('int mount_setattr(int dirfd, const char *path, unsigned int flags, void *attr, size_t size)'),
    memfdCreate: libc.func('int memfd_create(const char *name, unsigned int flags)'),
    fcntl: libc.func('int fcntl(int fd, int cmd, int arg)'),
    dup3: libc.func('int dup3(int oldfd, int newfd, int flags)'),
    setsockopt: libc.func('int setsockopt(int fd, int level, int name, const void *value, unsigned int len)'),
    getsockopt: libc.func('int getsockopt(int fd, int level, int name, _Out_ uint8_t *value, _Inout_ uint32_t *len)'),
    unshare: libc.func('int unshare(int flags)'),
    setns: libc.func('int setns(int fd, int nstype)'),
    sethostname: libc.func('int sethostname(const char *name, size_t len)'),
    setdomainname: libc.func('int setdomainname(const char *name, size_t len)'),
    open: libc.func('int open(const char *path, int flags, unsigned int mode)'),
    openat2: libc.func('long syscall(long nr, int dirfd, const char *path, void *how, size_t size)'),
    close: libc.func('int close(int fd)'),
    mkdirat: libc.func('int mkdirat(int dirfd, const char *path, unsigned int mode)'),
    mknodat: libc.func('int mknodat(int dirfd, const char *path, unsigned int mode, unsigned long dev)'),
    readlinkat: libc.func('long readlinkat(int dirfd, const char *path, _Out_ uint8_t *buf, size_t size)'),
    unlinkat: libc.func('int unlinkat(int dirfd, const char *path, int flags)'),
    symlinkat: libc.func('int symlinkat(const char *target, int dirfd, const char *path)'),
    fchownat: libc.func('int fchownat(int dirfd, const char *path, unsigned int uid, unsigned int gid, int flags)'),
    fchmod: libc.func('int fchmod(int fd, unsigned int mode)'),
    fchdir: libc.func('int fchdir(int fd)'),
    chdir: libc.func('int chdir(const char *path)'),
    chroot: libc.func('int chroot(const char *path)'),
    mkfifo: libc.func('int mkfifo(const char *path, unsigned int mode)'),
    flock: libc.func('int flock(int fd, int operation)'),
    lsetxattr: libc.func('int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)'),
    lgetxattr: libc.func('long lgetxattr(const char *path, const char *name, _Out_ void *value, size_t size)'),
    llistxattr: libc.func('long llistxattr(const char *path, _Out_ void *list, size_t size)'),
    ioctlInt: libc.func('int ioctl(int fd, unsigned long request, _Inout_ int *value)'),
    ioctlBuffer: libc.func('int ioctl(int fd, unsigned long request, void *arg)'),
    read: libc.func('long read(int fd, void *buf, size_t count)'),
    write: libc.func('long write(int fd, const void *buf, size_t count)'),
    socketpair: libc.func('int socketpair(int domain, int type, int protocol, _Out_ int *sv)'),
    socket: libc.func('int socket(int domain, int type, int protocol)'),
    bind: libc.func('int bind(int fd, const void *addr, unsigned int len)'),
    listen: libc.func('int listen(int fd, int backlog)'),
    accept4: libc.func('int accept4(int fd, void *addr, void *len, int flags)'),
    connect: libc.func('int connect(int fd, const void *addr, unsigned int len)'),
    sendmsg: libc.func('long sendmsg(int fd, const void *msg, int flags)'),
    recvmsg: libc.func('long recvmsg(int fd, void *msg, int flags)'),
    getpid: libc.func('int getpid(void)'),
    kill: libc.func('int kill(int pid, int sig)'),
    pidfdOpen: libc.func('int pidfd_open(int pid, unsigned int flags)'),
    pidfdSendSignal: libc.func('int pidfd_send_signal(int pidfd, int sig, void *info, unsigned int flags)'),
    prctl: libc.func('int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)'),
    setfsuid: libc.func('int setfsuid(unsigned int uid)'),
    setfsgid: libc.func('int setfsgid(unsigned int gid)'),
    prlimit: libc.func('int prlimit(int pid, int resource, const void *new_limit, void *old_limit)'),
    waitpid: libc.func('int waitpid(int pid, _Out_ int *status, int options)'),
  };
}

type Bindings = ReturnType<typeof declare>;
let bindings: Bindings | undefined;

/** libc's functions, declared on first use (loading koffi is most of a short command's FFI cost). */
const fn = new Proxy({} as Bindings, {
  get: (_target, name) => {
    bindings ??= declare();
    return bindings[name as keyof Bindings];
  },
});

function fail(syscall: string, what?: string, path?: string): never {
  throw new SyscallError(syscall, koffi().errno(), what, path);
}

/**
 * Errnos that callers of a path walk take as answers, not failures (EINVAL from readlinkat: not a
 * symlink; ENOENT: not there; EEXIST: already there). Their errors carry no stack: capturing one
 * costs ~20 us, and a container's root filesystem asks ~100 such questions (issue 9).
 */
const ANSWERS: ReadonlySet<number> = new Set([2 /* ENOENT */, 17 /* EEXIST */, 22 /* EINVAL */]);

function checkAnswer(ret: number | bigint, syscall: string, what: string, path: string): number {
  const n = Number(ret);
  if (n >= 0) return n;
  const errno = koffi().errno();
  if (!ANSWERS.has(errno)) fail(syscall, what, path);
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    throw new SyscallError(syscall, errno, what, path);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function check(ret: number | bigint, syscall: string, what?: string, path?: string): number {
  const n = Number(ret);
  if (n < 0) fail(syscall, what, path);
  return n;
}

function decodeWait(pid: number, status: number): WaitResult {
  // <sys/wait.h>: WIFEXITED when the low 7 bits are 0; WTERMSIG otherwise (0x7f means stopped).
  const sig = status & 0x7f;
  if (sig === 0) return { pid, exitCode: (status >> 8) & 0xff, signal: undefined };
  return { pid, exitCode: undefined, signal: sig };
}

// struct msghdr (x86_64): name, namelen(+pad), iov, iovlen, control, controllen, flags(+pad) = 56 bytes
const MSGHDR_SIZE = 56;
const CMSG_HDR = 16; // struct cmsghdr: size_t len, int level, int type

function buildMsghdr(iov: Buffer, control: Buffer | null): Buffer {
  const msg = Buffer.alloc(MSGHDR_SIZE);
  msg.writeBigUInt64LE(koffi().address(iov), 16);
  msg.writeBigUInt64LE(1n, 24);
  if (control !== null) {
    msg.writeBigUInt64LE(koffi().address(control), 32);
    msg.writeBigUInt64LE(BigInt(control.length), 40);
  }
  return msg;
}

function buildIovec(data: Buffer): Buffer {
  const iov = Buffer.alloc(16);
  iov.writeBigUInt64LE(koffi().address(data), 0);
  iov.writeBigUInt64LE(BigInt(data.length), 8);
  return iov;
}

/** struct sockaddr_un: sa_family_t (2 bytes) + sun_path[108]; closes `fd` when the path is too long. */
function unixAddress(fd: number, path: string, syscall: string): Buffer {
  if (Buffer.byteLength(path) > 107) {
    fn.close(fd);
    throw new SyscallError(syscall, 36, `${syscall} \`${path}\``, path);
  }
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(AF_UNIX, 0);
  addr.write(path, 2);
  return addr;
}

export class LinuxSyscalls implements Syscalls {
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void {
    check(fn.mount(source, target, fstype, flags, data), 'mount', `mount \`${source ?? fstype ?? 'none'}\` on \`${target}\``, target);
  }
  umount2(target: string, flags: number): void {
    check(fn.umount2(target, flags), 'umount2', `umount \`${target}\``, target);
  }
  pivotRoot(newRoot: string, putOld: string): void {
    check(fn.pivotRoot(SYS_pivot_root, newRoot, putOld), 'pivot_root', `pivot_root \`${newRoot}\``, newRoot);
  }
  fsconfigSetString(fsfd: number, key: string, value: string): void {
    check(fn.fsconfig(fsfd, 1, key, value, 0), 'fsconfig', `fsconfig set \`${key}\``);
  }
  fsconfigSetFlag(fsfd: number, key: string): void {
    check(fn.fsconfig(fsfd, 0, key, null, 0), 'fsconfig', `fsconfig set flag \`${key}\``);
  }
  fsconfigCreate(fsfd: number): void {
    check(fn.fsconfig(fsfd, 6, null, null, 0), 'fsconfig', 'fsconfig create');
  }
  fsmount(fsfd: number, flags: number, attrFlags: number): number {
    return check(fn.fsmount(fsfd, flags, attrFlags), 'fsmount');
  }
  moveMount(fromFd: number, fromPath: string, toFd: number, toPath: string, flags: number): void {
    check(fn.moveMount(fromFd, fromPath, toFd, toPath, flags), 'move_mount', `move_mount to \`${toPath}\``, toPath);
  }
  openTree(dirfd: number, path: string, flags: number): number {
    return check(fn.openTree(dirfd, path, flags), 'open_tree', `open_tree \`${path}\``, path);
  }
  fsopen(fstype: string, flags: number): number {
    return check(fn.fsopen(fstype, flags), 'fsopen', `fsopen \`${fstype}\``);
  }
  mountSetattr(dirfd: number, path: string, flags: number, attrSet: number, attrClr: number, propagation: number): void {
    // FFI: struct mount_attr { u64 attr_set, attr_clr, propagation, userns_fd } read during the call.
    const attr = Buffer.alloc(32);
    attr.writeBigUInt64LE(BigInt(attrSet), 0);
    attr.writeBigUInt64LE(BigInt(attrClr), 8);
    attr.writeBigUInt64LE(BigInt(propagation), 16);
    check(fn.mountSetattr(dirfd, path, flags, attr, 32), 'mount_setattr', `set mount attributes of \`${path || 'fd ' + dirfd}\``, path);
  }
  memfdCreate(name: string, flags: number): number {
    return check(fn.memfdCreate(name, flags), 'memfd_create', `memfd_create \`${name}\``);
  }
  dup3(oldFd: number, newFd: number): void {
    if (oldFd === newFd) return;
    check(fn.dup3(oldFd, newFd, 0), 'dup3', `dup fd ${oldFd} to ${newFd}`);
  }
  dupCloexec(fd: number): number {
    return check(fn.fcntl(fd, 1030 /* F_DUPFD_CLOEXEC */, 3), 'fcntl', `dup fd ${fd}`);
  }
  addSeals(fd: number, seals: number): void {
    check(fn.fcntl(fd, 1033 /* F_ADD_SEALS */, seals), 'fcntl', 'add seals');
  }
  setReceiveTimeout(sock: number, timeoutMs: number): void {
    // FFI: struct timeval { i64 sec, i64 usec }.
    const tv = Buffer.alloc(16);
    tv.writeBigInt64LE(BigInt(Math.floor(timeoutMs / 1000)), 0);
    tv.writeBigInt64LE(BigInt((timeoutMs % 1000) * 1000), 8);
    check(fn.setsockopt(sock, SOL_SOCKET, 20 /* SO_RCVTIMEO */, tv, 16), 'setsockopt', 'set receive timeout');
  }
  netnsCookie(sock: number): bigint {
    // FFI: SO_NETNS_COOKIE writes a u64 (Linux 5.14+).
    const v = Buffer.alloc(8);
    const len = [8];
    check(fn.getsockopt(sock, SOL_SOCKET, 71 /* SO_NETNS_COOKIE */, v, len), 'getsockopt', 'read the network namespace cookie');
    return v.readBigUInt64LE(0);
  }
  peerPid(sock: number): number {
    // FFI: struct ucred { i32 pid, u32 uid, u32 gid } of SO_PEERCRED.
    const cred = Buffer.alloc(12);
    const len = [12];
    check(fn.getsockopt(sock, SOL_SOCKET, 17 /* SO_PEERCRED */, cred, len), 'getsockopt', 'read the peer credentials');
    return cred.readInt32LE(0);
  }
  unshare(flags: number): void {
    check(fn.unshare(flags), 'unshare', `unshare 0x${flags.toString(16)}`);
  }
  setns(fd: number, nstype: number): void {
    check(fn.setns(fd, nstype), 'setns', `setns 0x${nstype.toString(16)}`);
  }
  sethostname(name: string): void {
    check(fn.sethostname(name, Buffer.byteLength(name)), 'sethostname', `sethostname \`${name}\``);
  }
  setdomainname(name: string): void {
    check(fn.setdomainname(name, Buffer.byteLength(name)), 'setdomainname', `setdomainname \`${name}\``);
  }
  open(path: string, flags: number, mode = 0): number {
    return check(fn.open(path, flags, mode), 'open', `open \`${path}\``, path);
  }
  openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number {
    // FFI: struct open_how is three u64s, read by the kernel during the call only.
    const how = Buffer.alloc(24);
    how.writeBigUInt64LE(BigInt(flags), 0);
    how.writeBigUInt64LE(BigInt(mode), 8);
    how.writeBigUInt64LE(BigInt(resolve), 16);
    return checkAnswer(fn.openat2(SYS_openat2, dirfd, path, how, 24), 'openat2', `open \`${path}\``, path);
  }
  close(fd: number): void {
    check(fn.close(fd), 'close', `close fd ${fd}`);
  }
  mkdirat(dirfd: number, path: string, mode: number): void {
    checkAnswer(fn.mkdirat(dirfd, path, mode), 'mkdirat', `mkdir \`${path}\``, path);
  }
  mknodat(dirfd: number, path: string, mode: number, dev: number): void {
    check(fn.mknodat(dirfd, path, mode, dev), 'mknodat', `mknod \`${path}\``, path);
  }
  symlinkat(target: string, dirfd: number, path: string): void {
    check(fn.symlinkat(target, dirfd, path), 'symlinkat', `symlink \`${path}\` -> \`${target}\``, path);
  }
  readlinkat(dirfd: number, path: string): string {
    // FFI: the kernel writes at most buf.length bytes, no NUL terminator.
    const buf = Buffer.alloc(4096);
    const n = checkAnswer(fn.readlinkat(dirfd, path, buf, buf.length), 'readlinkat', `readlink \`${path}\``, path);
    return buf.subarray(0, n).toString('utf8');
  }
  unlinkat(dirfd: number, path: string, flags: number): void {
    check(fn.unlinkat(dirfd, path, flags), 'unlinkat', `unlink \`${path}\``, path);
  }
  fchownat(dirfd: number, path: string, uid: number, gid: number, flags: number): void {
    check(fn.fchownat(dirfd, path, uid, gid, flags), 'fchownat', `chown \`${path}\``, path);
  }
  fchmod(fd: number, mode: number): void {
    check(fn.fchmod(fd, mode), 'fchmod');
  }
  fchdir(fd: number): void {
    check(fn.fchdir(fd), 'fchdir');
  }
  chdir(path: string): void {
    check(fn.chdir(path), 'chdir', `chdir \`${path}\``, path);
  }
  chroot(path: string): void {
    check(fn.chroot(path), 'chroot', `chroot \`${path}\``, path);
  }
  mkfifo(path: string, mode: number): void {
    check(fn.mkfifo(path, mode), 'mkfifo', `mkfifo \`${path}\``, path);
  }
  lsetxattr(path: string, name: string, value: Buffer, flags: number): void {
    // FFI: `value` is read during the call only; its length is passed as size.
    check(fn.lsetxattr(path, name, value, value.length, flags), 'lsetxattr', `set xattr \`${name}\` on \`${path}\``, path);
  }
  lgetxattr(path: string, name: string): Buffer {
    // Size first (value NULL), then the value into a buffer of that size; ERANGE means it grew
    // in between, so ask again.
    for (;;) {
      const size = check(fn.lgetxattr(path, name, null, 0), 'lgetxattr', `get xattr \`${name}\` of \`${path}\``, path);
      // FFI: `buf` is written by the kernel during the call, at most `size` bytes.
      const buf = Buffer.alloc(Math.max(size, 1));
      const got = Number(fn.lgetxattr(path, name, buf, size));
      if (got >= 0) return buf.subarray(0, got);
      if (koffi().errno() !== 34 /* ERANGE */) fail('lgetxattr', `get xattr \`${name}\` of \`${path}\``, path);
    }
  }
  llistxattr(path: string): string[] {
    for (;;) {
      const size = check(fn.llistxattr(path, null, 0), 'llistxattr', `list xattrs of \`${path}\``, path);
      if (size === 0) return [];
      // FFI: `buf` receives NUL-separated names, at most `size` bytes, during the call.
      const buf = Buffer.alloc(size);
      const got = Number(fn.llistxattr(path, buf, size));
      if (got >= 0) return buf.subarray(0, got).toString('utf8').split('\0').filter((n) => n !== '');
      if (koffi().errno() !== 34 /* ERANGE */) fail('llistxattr', `list xattrs of \`${path}\``, path);
    }
  }
  flock(fd: number, operation: number): void {
    check(fn.flock(fd, operation), 'flock');
  }
  ioctlInt(fd: number, request: number, value: number): number {
    const v = [value];
    check(fn.ioctlInt(fd, request, v), 'ioctl', `ioctl 0x${request.toString(16)}`);
    return v[0] ?? 0;
  }
  ioctlBuffer(fd: number, request: number, buf: Buffer): void {
    // FFI: buf is read or written by the kernel during the call only.
    check(fn.ioctlBuffer(fd, request, buf), 'ioctl', `ioctl 0x${request.toString(16)}`);
  }
  read(fd: number, buf: Buffer): number {
    return check(fn.read(fd, buf, buf.length), 'read');
  }
  write(fd: number, buf: Buffer): number {
    return check(fn.write(fd, buf, buf.length), 'write');
  }
  socketpair(domain: number, type: number): [number, number] {
    const sv = [0, 0];
    check(fn.socketpair(domain, type, 0, sv), 'socketpair');
    return [sv[0] ?? -1, sv[1] ?? -1];
  }
  sendmsg(sock: number, data: Buffer, fds: readonly number[]): void {
    // FFI: msghdr, iovec and cmsg buffers stay referenced until sendmsg returns.
    const payload = data.length > 0 ? data : Buffer.alloc(1);
    const iov = buildIovec(payload);
    let control: Buffer | null = null;
    if (fds.length > 0) {
      const len = CMSG_HDR + 4 * fds.length;
      control = Buffer.alloc((len + 7) & ~7);
      control.writeBigUInt64LE(BigInt(len), 0);
      control.writeInt32LE(SOL_SOCKET, 8);
      control.writeInt32LE(SCM_RIGHTS, 12);
      fds.forEach((fd, i) => control!.writeInt32LE(fd, CMSG_HDR + 4 * i));
    }
    const msg = buildMsghdr(iov, control);
    check(fn.sendmsg(sock, msg, 0x4000 /* MSG_NOSIGNAL */), 'sendmsg');
  }
  recvmsg(sock: number, maxBytes: number, maxFds: number): ReceivedMessage {
    const data = Buffer.alloc(Math.max(1, maxBytes));
    const iov = buildIovec(data);
    const control = maxFds > 0 ? Buffer.alloc((CMSG_HDR + 4 * maxFds + 7) & ~7) : null;
    const msg = buildMsghdr(iov, control);
    const n = check(fn.recvmsg(sock, msg, 0x40000000 /* MSG_CMSG_CLOEXEC */), 'recvmsg');
    const fds: number[] = [];
    if (control !== null) {
      const controlLen = Number(msg.readBigUInt64LE(40));
      let off = 0;
      while (off + CMSG_HDR <= controlLen) {
        const len = Number(control.readBigUInt64LE(off));
        if (len < CMSG_HDR) break;
        if (control.readInt32LE(off + 8) === SOL_SOCKET && control.readInt32LE(off + 12) === SCM_RIGHTS) {
          for (let p = off + CMSG_HDR; p + 4 <= off + len; p += 4) fds.push(control.readInt32LE(p));
        }
        off += (len + 7) & ~7;
      }
    }
    return { data: data.subarray(0, n), fds };
  }
  socket(domain: number, type: number, protocol: number): number {
    return check(fn.socket(domain, type, protocol), 'socket', `socket ${domain}/${type}/${protocol}`);
  }
  setsockoptInt(sock: number, level: number, name: number, value: number): void {
    // FFI: a 4-byte int read by the kernel during the call only.
    const v = Buffer.alloc(4);
    v.writeInt32LE(value, 0);
    check(fn.setsockopt(sock, level, name, v, 4), 'setsockopt', `setsockopt ${level}/${name}`);
  }
  connectUnix(path: string): number {
    const fd = check(fn.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), 'socket');
    const addr = unixAddress(fd, path, 'connect');
    if (fn.connect(fd, addr, 110) < 0) {
      const errno = koffi().errno();
      fn.close(fd);
      throw new SyscallError('connect', errno, `connect \`${path}\``, path);
    }
    return fd;
  }
  listenUnix(path: string): number {
    const fd = check(fn.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), 'socket');
    const addr = unixAddress(fd, path, 'bind');
    if (fn.bind(fd, addr, 110) < 0 || fn.listen(fd, 16) < 0) {
      const errno = koffi().errno();
      fn.close(fd);
      throw new SyscallError('bind', errno, `listen on \`${path}\``, path);
    }
    return fd;
  }
  accept(fd: number): number {
    return check(fn.accept4(fd, null, null, SOCK_CLOEXEC), 'accept4', 'accept');
  }
  getpid(): number {
    return fn.getpid();
  }
  kill(pid: number, signal: number): void {
    check(fn.kill(pid, signal), 'kill', `kill ${pid} with signal ${signal}`);
  }
  pidfdOpen(pid: number): number {
    return check(fn.pidfdOpen(pid, 0), 'pidfd_open', `pidfd_open ${pid}`);
  }
  pidfdSendSignal(pidfd: number, signal: number): void {
    check(fn.pidfdSendSignal(pidfd, signal, null, 0), 'pidfd_send_signal', `signal ${signal}`);
  }
  prctl(option: number, arg2: number): number {
    return check(fn.prctl(option, arg2, 0, 0, 0), 'prctl', `prctl ${option}`);
  }
  setfsuid(uid: number): number {
    return fn.setfsuid(uid);
  }
  setfsgid(gid: number): number {
    return fn.setfsgid(gid);
  }
  prlimit(pid: number, resource: number, soft: bigint, hard: bigint): void {
    const lim = Buffer.alloc(16);
    lim.writeBigUInt64LE(soft, 0);
    lim.writeBigUInt64LE(hard, 8);
    check(fn.prlimit(pid, resource, lim, null), 'prlimit', `prlimit ${resource} of ${pid}`);
  }
  waitpid(pid: number, options: number): WaitResult | undefined {
    const status = [0];
    const ret = check(fn.waitpid(pid, status, options), 'waitpid', `waitpid ${pid}`);
    if (ret === 0) return undefined;
    return decodeWait(ret, status[0] ?? 0);
  }
  waitpidAsync(pid: number): Promise<WaitResult> {
    return new Promise((resolve, reject) => {
      const status = [0];
      fn.waitpid.async(pid, status, 0, (err: unknown, ret: number) => {
        if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else if (ret < 0) reject(new SyscallError('waitpid', 10, `waitpid ${pid}`));
        else resolve(decodeWait(ret, status[0] ?? 0));
      });
    });
  }
}

let instance: LinuxSyscalls | undefined;
/** The process-wide real implementation. */
export function linuxSyscalls(): Syscalls {
  instance ??= new LinuxSyscalls();
  return instance;
}
