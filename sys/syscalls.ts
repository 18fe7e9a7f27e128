/**
 * The one syscall boundary. Everything outside sys/ calls this interface; only
 * linux-syscalls.ts loads the FFI library. Unit tests swap in RecordingSyscalls.
 *
 * Every method throws SyscallError on failure (errno kept), never returns -1.
 * Flags and constants are the kernel's own numbers (sys/constants.ts).
 */

export interface ReceivedMessage {
  readonly data: Buffer;
  readonly fds: number[];
}

export interface WaitResult {
  readonly pid: number;
  /** Exit code when the process exited, else undefined. */
  readonly exitCode: number | undefined;
  /** Terminating signal number when killed by a signal, else undefined. */
  readonly signal: number | undefined;
}

export interface Syscalls {
  // mount(2), umount2(2), pivot_root(2)
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount2(target: string, flags: number): void;
  pivotRoot(newRoot: string, putOld: string): void;
  // the new mount API: fsopen(2), fsconfig(2), fsmount(2), move_mount(2), open_tree(2)
  fsconfigSetString(fsfd: number, key: string, value: string): void;
  fsconfigSetFlag(fsfd: number, key: string): void;
  fsconfigCreate(fsfd: number): void;
  fsmount(fsfd: number, flags: number, attrFlags: number): number;
  moveMount(fromFd: number, fromPath: string, toFd: number, toPath: string, flags: number): void;
  openTree(dirfd: number, path: string, flags: number): number;
  fsopen(fstype: string, flags: number): number;
  /** mount_setattr(2): flags AT_EMPTY_PATH | AT_RECURSIVE ...; propagation MS_SHARED etc. or 0. */
  mountSetattr(dirfd: number, path: string, flags: number, attrSet: number, attrClr: number, propagation: number): void;

  // namespaces: unshare(2), setns(2)
  unshare(flags: number): void;
  setns(fd: number, nstype: number): void;
  sethostname(name: string): void;
  setdomainname(name: string): void;

  // files
  open(path: string, flags: number, mode?: number): number;
  /** openat2(2) with struct open_how { flags, mode, resolve }. */
  openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number;
  close(fd: number): void;
  mkdirat(dirfd: number, path: string, mode: number): void;
  mknodat(dirfd: number, path: string, mode: number, dev: number): void;
  symlinkat(target: string, dirfd: number, path: string): void;
  unlinkat(dirfd: number, path: string, flags: number): void;
  /** readlinkat(2); with path '' reads the link an O_PATH|O_NOFOLLOW fd refers to. */
  readlinkat(dirfd: number, path: string): string;
  fchownat(dirfd: number, path: string, uid: number, gid: number, flags: number): void;
  fchmod(fd: number, mode: number): void;
  fchdir(fd: number): void;
  chdir(path: string): void;
  chroot(path: string): void;
  mkfifo(path: string, mode: number): void;
  /** lsetxattr(2): never follows a final symlink; flags XATTR_CREATE (1) / XATTR_REPLACE (2) or 0. */
  lsetxattr(path: string, name: string, value: Buffer, flags: number): void;
  /** lgetxattr(2): the attribute's value; ENODATA when it is absent. */
  lgetxattr(path: string, name: string): Buffer;
  /** llistxattr(2): the names of the attributes this process can see. */
  llistxattr(path: string): string[];
  flock(fd: number, operation: number): void;
  /** ioctl(2) with an int argument passed by pointer; returns the int after the call. */
  ioctlInt(fd: number, request: number, value: number): number;
  /** ioctl(2) with a pointer to `buf` (struct in, or out). */
  ioctlBuffer(fd: number, request: number, buf: Buffer): void;
  read(fd: number, buf: Buffer): number;
  /** memfd_create(2) */
  memfdCreate(name: string, flags: number): number;
  /** fcntl(F_ADD_SEALS) */
  addSeals(fd: number, seals: number): void;
  /** setsockopt SO_RCVTIMEO: a blocking receive fails with EAGAIN after `timeoutMs`. */
  setReceiveTimeout(sock: number, timeoutMs: number): void;
  /** SO_NETNS_COOKIE: the boot-unique id of the network namespace `sock` was made in. */
  netnsCookie(sock: number): bigint;
  /** SO_PEERCRED: the pid of the process at the other end of a connected unix socket. */
  peerPid(sock: number): number;
  write(fd: number, buf: Buffer): number;
  /** dup3(2) without flags: `oldFd` also becomes `newFd` (closed first when open). */
  dup3(oldFd: number, newFd: number): void;
  /** fcntl(F_DUPFD_CLOEXEC): a close-on-exec copy of `fd` numbered 3 or above. */
  dupCloexec(fd: number): number;

  // sockets: socket(2), setsockopt(2) with an int value (netlink options, SO_* flags)
  socket(domain: number, type: number, protocol: number): number;
  setsockoptInt(sock: number, level: number, name: number, value: number): void;

  // unix sockets with SCM_RIGHTS
  socketpair(domain: number, type: number): [number, number];
  sendmsg(sock: number, data: Buffer, fds: readonly number[]): void;
  recvmsg(sock: number, maxBytes: number, maxFds: number): ReceivedMessage;
  /** Connects a SOCK_STREAM unix socket to `path` and returns its fd. */
  connectUnix(path: string): number;
  /** Binds and listens on a SOCK_STREAM unix socket at `path`; returns its fd. */
  listenUnix(path: string): number;
  accept(fd: number): number;

  // processes
  getpid(): number;
  kill(pid: number, signal: number): void;
  pidfdOpen(pid: number): number;
  pidfdSendSignal(pidfd: number, signal: number): void;
  prctl(option: number, arg2: number): number;
  /** setfsuid(2)/setfsgid(2): per-thread filesystem ids; return the previous id. */
  setfsuid(uid: number): number;
  setfsgid(gid: number): number;
  prlimit(pid: number, resource: number, soft: bigint, hard: bigint): void;
  /** waitpid(2) without WNOHANG blocks the calling thread: prefer waitpidAsync. */
  waitpid(pid: number, options: number): WaitResult | undefined;
  /** waitpid(2) on a worker thread, so the event loop keeps running (signal forwarding). */
  waitpidAsync(pid: number): Promise<WaitResult>;
}

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;
export const WNOHANG = 1;
