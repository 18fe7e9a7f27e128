/**
 * `kapsel-runtime daemon`: a warm kapsel-runtime that native/front.c (bin/kapsel-runtime) hands
 * the verbs that start no process to: start, state, kill, delete. Node's start-up then is paid
 * once instead of at every call. Without a daemon, or when it declines, the front runs Node as
 * before, so the daemon is only ever a shortcut.
 *
 * Why these verbs only: a container's init and exec'd processes must be children of the
 * caller's subreaper (containerd's shim, conmon) and get the caller's stdio, cgroup and
 * namespaces; `create`, `run` and `exec` therefore always run in a process the caller started.
 * The verbs served here only read state, signal, open the exec fifo, remove cgroups and state,
 * and run hooks.
 *
 * Protocol on a SOCK_STREAM unix socket (native/front.c is the other side):
 *   front  → daemon  "KRT1", u32le payload bytes, u32le umask, payload = cwd NUL (arg NUL)*,
 *                    with the front's fds 0, 1, 2 as SCM_RIGHTS
 *   daemon → front   "F" (declined: the front runs Node itself; nothing was done), or
 *                    "A" (accepted), then i32le exit status when the verb is done
 * Each request runs with the caller's cwd, umask and fds 0-2 (dup3 over the daemon's own, put
 * back to /dev/null and `/` afterwards so no caller's pipe or directory stays in use). Requests are served one at a
 * time. The front checks that the daemon runs as the same user in the same namespaces and
 * root as itself before it sends anything.
 */
import { renameSync } from 'node:fs';
import { KapselError } from '../common/errors.js';
import { LOCK_EX, LOCK_NB, type Syscalls } from '../sys/syscalls.js';
import { O_CLOEXEC, O_CREAT, O_RDWR } from '../sys/constants.js';
import { SyscallError } from '../sys/syscall-error.js';
import { parseFastArgv, type FastArgv } from './runtime-argv.js';

export const DEFAULT_DAEMON_SOCKET = '/run/kapsel-runtime-daemon.sock';
const MAGIC = 'KRT1';
const HEADER_BYTES = 12;
const MAX_PAYLOAD_BYTES = 1 << 16;
/** Verbs a daemon serves; everything else the front runs itself. */
export const DAEMON_VERBS: ReadonlySet<string> = new Set(['start', 'state', 'kill', 'delete']);

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

export interface DaemonOptions {
  readonly socket: string;
  /** Exit after this long without a request; 0: never. */
  readonly idleTimeoutMs: number;
  /** Runs one parsed command line as kapsel-runtime would and returns its exit status. */
  readonly run: (argv: FastArgv) => Promise<number>;
}

/** Serves requests until idle for `idleTimeoutMs`. Returns when it stops. */
export async function serveDaemon(sys: Syscalls, opts: DaemonOptions): Promise<void> {
  const lock = sys.open(`${opts.socket}.lock`, O_RDWR | O_CREAT | O_CLOEXEC, 0o600);
  try {
    sys.flock(lock, LOCK_EX | LOCK_NB);
  } catch (err) {
    sys.close(lock);
    throw new KapselError('ERR_DAEMON', `another kapsel-runtime daemon serves \`${opts.socket}\``, { cause: err });
  }
  // No caller's fd may stay open here between requests, and process.stdout/stderr must be
  // synchronous file streams (they are created on first use, after this).
  const devNull = sys.open('/dev/null', O_RDWR | O_CLOEXEC);
  for (const fd of [0, 1, 2]) sys.dup3(devNull, fd);
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
  try {
    for (;;) {
      let conn: number;
      try {
        conn = sys.accept(listener);
      } catch (err) {
        if (err instanceof SyscallError && err.code === 'EINTR') continue;
        if (err instanceof SyscallError && err.code === 'EAGAIN') return; // idle
        throw err;
      }
      try {
        await serveOne(sys, conn, devNull, opts);
      } catch {
        // a broken request (the front went away) ends only that request
      } finally {
        sys.close(conn);
        for (const fd of [0, 1, 2]) sys.dup3(devNull, fd);
        process.chdir('/'); // a caller's cwd must not stay busy (umount) between requests
      }
    }
  } finally {
    try {
      sys.unlinkat(-100, opts.socket, 0);
    } catch {
      // already replaced by another daemon
    }
    sys.close(listener);
    sys.close(lock);
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
    const fast = fds.length === 3 ? parseFastArgv(req.argv) : undefined;
    if (fast === undefined || !DAEMON_VERBS.has(fast.command.verb) || !enterCwd(req.cwd)) {
      sys.write(conn, Buffer.from('F'));
      return;
    }
    process.umask(req.umask);
    fds.forEach((fd, i) => sys.dup3(fd, i));
    sys.write(conn, Buffer.from('A'));
    let status: number;
    try {
      status = await opts.run(fast);
    } finally {
      for (const fd of [0, 1, 2]) sys.dup3(devNull, fd);
    }
    const out = Buffer.alloc(4);
    out.writeInt32LE(status);
    sys.write(conn, out);
  } finally {
    for (const fd of fds) sys.close(fd);
  }
}

function enterCwd(cwd: string): boolean {
  try {
    process.chdir(cwd);
    return true;
  } catch {
    return false;
  }
}
