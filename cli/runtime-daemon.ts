/**
 * `kapsel-runtime daemon`: a warm kapsel-runtime that native/front.c (bin/kapsel-runtime) hands
 * its command lines to, so Node's start-up is paid once instead of at every call. Without a
 * daemon, or when it declines, the front runs Node as before: the daemon is only a shortcut.
 *
 * `create`, `run` and `exec` start processes that must be children of the caller's subreaper
 * (containerd's shim, conmon) and get the caller's stdio, cgroup and namespaces. So the daemon
 * never forks them: it sends the front the sealed stage memfd and one end of the stage socket,
 * the front (a subreaper) forks and execs the stage with its own fds, and the daemon speaks the
 * stage protocol from here. The init is reparented to the front, and to the caller's subreaper
 * when the front exits. For `run` and `exec` without --detach the front waits for the process
 * and forwards signals itself; `run` then sends a follow-up `delete --force` as a new request.
 *
 * Protocol on a SOCK_STREAM unix socket (native/front.c is the other side; integers are
 * little-endian):
 *   front  -> daemon  "KRT2", u32 payload bytes, u32 umask, payload = cwd NUL (arg NUL)*,
 *                     with the front's fds 0, 1, 2 as SCM_RIGHTS
 *   daemon -> front   "F" (declined: the front runs Node itself; nothing was done), or "A"
 *                     (accepted), then any number of
 *     "S" u32 syncfd + SCM_RIGHTS [stage memfd, stage socket]: fork and exec the stage with
 *                     the socket at fd syncfd  -> front answers "P" u32 pid
 *     "W" u32 pid     reap your child pid (killed already)  -> front answers "w" i32 status
 *   and at last
 *     "X" i32 status, u32 pid to wait for (0: none), u32 follow-up bytes, follow-up argv
 *                     (arg NUL)*: the front waits for pid forwarding signals (its status
 *                     becomes the exit status), then runs the follow-up command line.
 * Each request runs with the caller's cwd, umask and fds 0-2 (dup3 over the daemon's own, put
 * back to /dev/null and `/` afterwards so no caller's pipe or directory stays in use). Requests
 * are served one at a time; none waits for a container. The front checks that the daemon runs
 * as the same user in the same namespaces and root as itself before it sends anything.
 */
import { appendFileSync, renameSync } from 'node:fs';
import { KapselError } from '../common/errors.js';
import { LOCK_EX, LOCK_NB, type Syscalls } from '../sys/syscalls.js';
import { O_CLOEXEC, O_CREAT, O_RDWR } from '../sys/constants.js';
import { SyscallError } from '../sys/syscall-error.js';

export const DEFAULT_DAEMON_SOCKET = '/run/kapsel-runtime-daemon.sock';
const MAGIC = 'KRT2';
const HEADER_BYTES = 12;
const MAX_PAYLOAD_BYTES = 1 << 16;
/** Verbs a daemon serves; everything else the front runs itself. */
export const DAEMON_VERBS: ReadonlySet<string> = new Set(['create', 'run', 'exec', 'start', 'state', 'kill', 'delete']);

export interface DaemonRequest {
  readonly umask: number;
  readonly cwd: string;
  readonly argv: string[];
}

/** Decodes a request; undefined while `buf` is incomplete. Throws on a malformed one. */
export function decodeRequest(buf: Buffer): DaemonRequest | undefined {
  if (buf.length < HEADER_BYTES) return undefined;
  if (buf.toString('latin1', 0, 4) !== MAGIC) throw new KapselError('ERR_DAEMON', 'daemon request: bad magic');
  const len = buf.readUInt32LE(4);
  if (len > MAX_PAYLOAD_BYTES) throw new KapselError('ERR_DAEMON', 'daemon request: too long');
  if (buf.length < HEADER_BYTES + len) return undefined;
  const parts = buf.toString('utf8', HEADER_BYTES, HEADER_BYTES + len).split('\0');
  if (parts.pop() !== '' || parts.length === 0) throw new KapselError('ERR_DAEMON', 'daemon request: unterminated');
  return { umask: buf.readUInt32LE(8) & 0o777, cwd: parts[0]!, argv: parts.slice(1) };
}

export function encodeRequest(req: DaemonRequest): Buffer {
  const payload = Buffer.from([req.cwd, ...req.argv].map((s) => `${s}\0`).join(''), 'utf8');
  const head = Buffer.alloc(HEADER_BYTES);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(payload.length, 4);
  head.writeUInt32LE(req.umask, 8);
  return Buffer.concat([head, payload]);
}

/** The caller's front, during one request. */
export interface FrontLink {
  /** The front's pid (SO_PEERCRED). */
  readonly pid: number;
  /** The front forks and execs the stage from `memfd` with `sock` at fd `syncFd`; its pid. */
  forkStage(memfd: number, sock: number, syncFd: number): number;
  /** The front reaps its child `pid` (already killed or exited). */
  reap(pid: number): void;
}

export interface DaemonOutcome {
  readonly status: number;
  /** A process of the front's for it to wait for, forwarding signals; its status wins. */
  readonly waitPid?: number;
  /** A command line the front runs afterwards (through the daemon when it can). */
  readonly followUp?: readonly string[];
  /** The error the caller was shown (for the request log). */
  readonly error?: string;
}

export type DaemonJob = (front: FrontLink) => Promise<DaemonOutcome>;

export interface DaemonOptions {
  readonly socket: string;
  /** Exit after this long without a request; 0: never. */
  readonly idleTimeoutMs: number;
  /**
   * The work of a command line, or undefined to decline it (the front then runs Node). Called
   * in the caller's cwd.
   */
  readonly job: (argv: readonly string[]) => Promise<DaemonJob | undefined>;
  /** Appends one line per served request (time, duration, status, argv) to this file. */
  readonly requestLog?: string | undefined;
  /**
   * True once the code this daemon runs was replaced on disk (a rebuild or an upgrade): it then
   * declines every request, so the fronts run the new code, and stops.
   */
  readonly stale?: () => boolean;
}

export function encodeOutcome(o: DaemonOutcome): Buffer {
  const follow = Buffer.from((o.followUp ?? []).map((a) => `${a}\0`).join(''), 'utf8');
  const head = Buffer.alloc(13);
  head.write('X', 0, 'latin1');
  head.writeInt32LE(o.status, 1);
  head.writeUInt32LE(o.waitPid ?? 0, 5);
  head.writeUInt32LE(follow.length, 9);
  return Buffer.concat([head, follow]);
}

/**
 * Starts `workers` more processes serving the same listening socket (each one request at a
 * time; the kernel hands each connection to one of them). Returns their pids.
 */
export type WorkerSpawner = (listener: number, count: number) => number[];

/** Serves requests until idle for `idleTimeoutMs`. Returns when it stops. */
export async function serveDaemon(sys: Syscalls, opts: DaemonOptions & { readonly workers?: number; readonly spawnWorkers?: WorkerSpawner }): Promise<void> {
  const lock = sys.open(`${opts.socket}.lock`, O_RDWR | O_CREAT | O_CLOEXEC, 0o600);
  try {
    sys.flock(lock, LOCK_EX | LOCK_NB);
  } catch (err) {
    sys.close(lock);
    throw new KapselError('ERR_DAEMON', `another kapsel-runtime daemon serves \`${opts.socket}\``, { cause: err });
  }
  // bound and listening under a temporary name, then renamed over any stale socket: a front
  // never connects to a socket that is not listening yet
  const fresh = `${opts.socket}.${process.pid}`;
  const oldUmask = process.umask(0o177);
  let listener: number;
  try {
    listener = sys.listenUnix(fresh);
  } finally {
    process.umask(oldUmask);
  }
  try {
    renameSync(fresh, opts.socket);
  } catch (err) {
    sys.close(listener);
    throw new KapselError('ERR_DAEMON', `listen on \`${opts.socket}\``, { cause: err });
  }
  if (opts.idleTimeoutMs > 0) sys.setReceiveTimeout(listener, opts.idleTimeoutMs);
  const workers = (opts.workers ?? 1) > 1 && opts.spawnWorkers !== undefined ? opts.spawnWorkers(listener, (opts.workers ?? 1) - 1) : [];
  try {
    await serveListener(sys, listener, opts);
  } finally {
    try {
      sys.unlinkat(-100, opts.socket, 0);
    } catch {
      // already replaced by another daemon
    }
    for (const pid of workers) {
      try {
        sys.kill(pid, 15);
      } catch {
        // idle already
      }
    }
    sys.close(listener);
    sys.close(lock);
  }
}

/**
 * Accepts and serves connections on `listener` one at a time until it has been idle for the
 * listener's receive timeout (a worker serves its parent's listener: serveDaemon).
 */
export async function serveListener(sys: Syscalls, listener: number, opts: DaemonOptions): Promise<void> {
  // No caller's fd may stay open here between requests, and process.stdout/stderr must be
  // synchronous file streams (they are created on first use, after this).
  const devNull = sys.open('/dev/null', O_RDWR | O_CLOEXEC);
  for (const fd of [0, 1, 2]) sys.dup3(devNull, fd);
  // SO_RCVTIMEO ends an idle accept; a signal (SIGCHLD, a profiler's SIGPROF) restarts it with
  // the whole timeout again, so the deadline is also checked here
  let idleSince = Date.now();
  for (;;) {
    let conn: number;
    try {
      conn = sys.accept(listener);
    } catch (err) {
      if (err instanceof SyscallError && err.code === 'EINTR') {
        if (opts.idleTimeoutMs > 0 && Date.now() - idleSince >= opts.idleTimeoutMs) return;
        continue;
      }
      if (err instanceof SyscallError && err.code === 'EAGAIN') return; // idle
      throw err;
    }
    if (opts.stale?.() === true) {
      try {
        sys.write(conn, Buffer.from('F'));
      } catch {
        // the front went away
      }
      sys.close(conn);
      return;
    }
    try {
      await serveOne(sys, conn, devNull, opts);
    } catch {
      // a broken request (the front went away) ends only that request
    } finally {
      sys.close(conn);
      for (const fd of [0, 1, 2]) sys.dup3(devNull, fd);
      process.chdir('/'); // a caller's cwd must not stay busy (umount) between requests
      idleSince = Date.now();
    }
  }
}

async function serveOne(sys: Syscalls, conn: number, devNull: number, opts: DaemonOptions): Promise<void> {
  sys.setReceiveTimeout(conn, 5_000);
  let buf = Buffer.alloc(0);
  const fds: number[] = [];
  let req: DaemonRequest | undefined;
  try {
    while ((req = decodeRequest(buf)) === undefined) {
      const m = sys.recvmsg(conn, MAX_PAYLOAD_BYTES + HEADER_BYTES, 3);
      fds.push(...m.fds);
      if (m.data.length === 0) return;
      buf = Buffer.concat([buf, m.data]);
    }
    // in the caller's cwd first: the choice may read the caller's files (config.json)
    const job = fds.length === 3 && enterCwd(req.cwd) ? await opts.job(req.argv) : undefined;
    if (job === undefined) {
      sys.write(conn, Buffer.from('F'));
      return;
    }
    const front = frontLink(sys, conn);
    const began = process.uptime();
    process.umask(req.umask);
    fds.forEach((fd, i) => sys.dup3(fd, i));
    sys.write(conn, Buffer.from('A'));
    let outcome: DaemonOutcome;
    try {
      outcome = await job(front);
    } finally {
      for (const fd of [0, 1, 2]) sys.dup3(devNull, fd);
    }
    writeAll(sys, conn, encodeOutcome(outcome));
    if (opts.requestLog !== undefined) {
      const ms = ((process.uptime() - began) * 1000).toFixed(1);
      appendFileSync(opts.requestLog, `${new Date().toISOString()} ${ms}ms pid=${process.pid} status=${outcome.status}${outcome.waitPid ? ` wait=${outcome.waitPid}` : ''} ${req.argv.join(' ')}${outcome.error !== undefined ? ` error=${JSON.stringify(outcome.error)}` : ''}\n`);
    }
  } finally {
    for (const fd of fds) sys.close(fd);
  }
}

function writeAll(sys: Syscalls, fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) off += sys.write(fd, data.subarray(off));
}

/** Reads exactly `n` bytes of the front's answer. */
function readExact(sys: Syscalls, conn: number, n: number): Buffer {
  const parts: Buffer[] = [];
  let got = 0;
  while (got < n) {
    let m;
    try {
      m = sys.recvmsg(conn, n - got, 0);
    } catch (err) {
      if (err instanceof SyscallError && err.code === 'EINTR') continue;
      throw new KapselError('ERR_DAEMON', 'the caller (kapsel-runtime front) did not answer', { cause: err });
    }
    if (m.data.length === 0) throw new KapselError('ERR_DAEMON', 'the caller (kapsel-runtime front) went away');
    parts.push(m.data);
    got += m.data.length;
  }
  return Buffer.concat(parts);
}

function frontLink(sys: Syscalls, conn: number): FrontLink {
  const ask = (request: Buffer, fds: readonly number[], answer: string): Buffer => {
    sys.sendmsg(conn, request, fds);
    const reply = readExact(sys, conn, 5);
    if (reply.toString('latin1', 0, 1) !== answer) throw new KapselError('ERR_DAEMON', `the caller (kapsel-runtime front) answered \`${reply.toString('latin1', 0, 1)}\`, not \`${answer}\``);
    return reply;
  };
  return {
    pid: sys.peerPid(conn),
    forkStage(memfd, sock, syncFd) {
      const m = Buffer.alloc(5);
      m.write('S', 0, 'latin1');
      m.writeUInt32LE(syncFd, 1);
      const pid = ask(m, [memfd, sock], 'P').readUInt32LE(1);
      if (pid === 0) throw new KapselError('ERR_STAGE', 'start the native stage: the caller could not fork it');
      return pid;
    },
    reap(pid) {
      const m = Buffer.alloc(5);
      m.write('W', 0, 'latin1');
      m.writeUInt32LE(pid, 1);
      ask(m, [], 'w');
    },
  };
}

function enterCwd(cwd: string): boolean {
  try {
    process.chdir(cwd);
    return true;
  } catch {
    return false;
  }
}
