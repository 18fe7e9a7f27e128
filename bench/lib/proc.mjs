/**
 * Process control for the measuring runner: spawn-and-wait with little overhead, waiting for a
 * detached container's init, and reaping.
 *
 * Spawning. Node's spawnSync forks the whole Node process (page tables of a ~50 MB heap) and
 * sets up an event loop per call: about 3 ms on a small VM, a tenth of a crun sample. glibc's
 * posix_spawn(3) uses clone(CLONE_VM|CLONE_VFORK) and costs a few hundred microseconds whatever
 * the parent's size, so the runner calls it through koffi (the FFI library kapsel already
 * depends on) and blocks in waitpid(2). The child gets default signal dispositions and an empty
 * mask (Node ignores SIGPIPE, and ignored signals survive execve(2)).
 *
 * Waiting for a detached init. After `create` the runtime exits and the init is re-parented to
 * the nearest child subreaper (prctl(2) PR_SET_CHILD_SUBREAPER) or to pid 1. Pid 1 on a bench
 * host may not reap (this one does not), so the runner makes itself a subreaper: the init
 * becomes its child, waitpid(WNOHANG) polled every 0.1 ms detects the exit, and no zombie
 * outlives the run.
 *
 * Without koffi everything falls back to spawnSync and to polling /proc/<pid>/stat.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

const PR_SET_CHILD_SUBREAPER = 36; // <linux/prctl.h>
const WNOHANG = 1; // <bits/waitflags.h>
const EINTR = 4;
const ECHILD = 10;
const O_RDONLY = 0;
const O_WRONLY = 0o1;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;
const POSIX_SPAWN_SETSIGDEF = 0x04; // <spawn.h>
const POSIX_SPAWN_SETSIGMASK = 0x08;
// glibc x86_64/aarch64: posix_spawn_file_actions_t is 80 bytes, posix_spawnattr_t 336,
// sigset_t 128. The buffers are larger so that a libc with bigger structs stays in bounds.
const FILE_ACTIONS_BYTES = 256;
const SPAWNATTR_BYTES = 1024;
const SIGSET_BYTES = 256;
const POLL_MS = 0.1;

function sleepMs(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function procGone(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // field 3 (state) follows the parenthesised comm, which may itself contain ')'
    return stat[stat.lastIndexOf(')') + 2] === 'Z';
  } catch {
    return true;
  }
}

async function loadLibc() {
  try {
    const koffi = (await import('koffi')).default;
    const lib = koffi.load('libc.so.6');
    return {
      koffi,
      // FFI: scalar arguments only.
      prctl: lib.func('int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)'),
      // FFI: `status` is an int the callee writes; koffi copies it back into the one-element array.
      waitpid: lib.func('int waitpid(int pid, _Out_ int *status, int options)'),
      // FFI: `fa`, `attr` and `set` are caller-owned Buffers (sizes above) that live until the
      // matching destroy call; glibc keeps its own copy of `path` (strdup) in addopen.
      faInit: lib.func('int posix_spawn_file_actions_init(void *fa)'),
      faDestroy: lib.func('int posix_spawn_file_actions_destroy(void *fa)'),
      faAddOpen: lib.func('int posix_spawn_file_actions_addopen(void *fa, int fd, const char *path, int oflag, unsigned int mode)'),
      attrInit: lib.func('int posix_spawnattr_init(void *attr)'),
      attrDestroy: lib.func('int posix_spawnattr_destroy(void *attr)'),
      attrSetFlags: lib.func('int posix_spawnattr_setflags(void *attr, short flags)'),
      attrSetSigDefault: lib.func('int posix_spawnattr_setsigdefault(void *attr, const void *set)'),
      attrSetSigMask: lib.func('int posix_spawnattr_setsigmask(void *attr, const void *set)'),
      sigFillSet: lib.func('int sigfillset(void *set)'),
      sigEmptySet: lib.func('int sigemptyset(void *set)'),
      // FFI: argv and envp are NULL-terminated string arrays koffi copies for the call only;
      // posix_spawnp has exec'd (or failed) by the time it returns, so nothing outlives it.
      spawnp: lib.func('int posix_spawnp(_Out_ int *pid, const char *file, const void *fa, const void *attr, const char **argv, const char **envp)'),
    };
  } catch {
    return undefined;
  }
}

function exitDescription(status) {
  const sig = status & 0x7f;
  return sig === 0 ? { code: (status >> 8) & 0xff } : { signal: sig };
}

/**
 * @returns {Promise<{ spawnMode: string, reapMode: string,
 *   run(argv: string[], stderrPath: string): { ms: number, startEpochMs: number, code?: number, signal?: number | string },
 *   waitExit(pid: number, timeoutMs?: number): void, reapAll(): number }>}
 */
export async function openProcessControl() {
  const libc = await loadLibc();
  const subreaper = libc !== undefined && libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) === 0;

  let attr;
  if (libc) {
    attr = Buffer.alloc(SPAWNATTR_BYTES);
    const all = Buffer.alloc(SIGSET_BYTES);
    const none = Buffer.alloc(SIGSET_BYTES);
    libc.attrInit(attr);
    libc.sigFillSet(all);
    libc.sigEmptySet(none);
    libc.attrSetSigDefault(attr, all);
    libc.attrSetSigMask(attr, none);
    libc.attrSetFlags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  }

  /** posix_spawn of argv with stdin/stdout on /dev/null and stderr into a file; returns the pid. */
  const spawnFfi = (argv, stderrPath, envOverlay = {}) => {
    const fa = Buffer.alloc(FILE_ACTIONS_BYTES);
    libc.faInit(fa);
    try {
      libc.faAddOpen(fa, 0, '/dev/null', O_RDONLY, 0);
      libc.faAddOpen(fa, 1, '/dev/null', O_WRONLY, 0);
      libc.faAddOpen(fa, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644);
      const env = Object.entries({ ...process.env, ...envOverlay }).map(([k, v]) => `${k}=${v}`);
      const args = [...argv, null];
      const envp = [...env, null];
      const pidOut = [0];
      const err = libc.spawnp(pidOut, argv[0], fa, attr, args, envp);
      if (err !== 0) throw new Error(`posix_spawnp \`${argv[0]}\`: errno ${err}`);
      return pidOut[0];
    } finally {
      libc.faDestroy(fa);
    }
  };
  const waitFfi = (pid) => {
    const status = [0];
    let r;
    do r = libc.waitpid(pid, status, 0);
    while (r < 0 && libc.koffi.errno() === EINTR);
    if (r < 0) throw new Error(`waitpid ${pid}: errno ${libc.koffi.errno()}`);
    return exitDescription(status[0]);
  };
  const runFfi = (argv, stderrPath, envOverlay = {}) => {
    const t0 = performance.now();
    const pid = spawnFfi(argv, stderrPath, envOverlay);
    const exit = waitFfi(pid);
    const ms = performance.now() - t0;
    return { ms, startEpochMs: performance.timeOrigin + t0, ...exit };
  };
  /** Every argv at once, then waits for all: wall ms and each exit. */
  const runManyFfi = (argvs, stderrPaths, envOverlay = {}) => {
    const t0 = performance.now();
    const pids = argvs.map((argv, i) => spawnFfi(argv, stderrPaths[i], envOverlay));
    const exits = pids.map((pid) => waitFfi(pid));
    return { ms: performance.now() - t0, exits };
  };

  const runNode = (argv, stderrPath, envOverlay = {}) => {
    const errFd = openSync(stderrPath, 'w');
    try {
      const t0 = performance.now();
      const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', errFd], env: { ...process.env, ...envOverlay } });
      const ms = performance.now() - t0;
      if (r.error) throw new Error(`${argv[0]}: ${r.error.message}`);
      const startEpochMs = performance.timeOrigin + t0;
      return r.status !== null ? { ms, startEpochMs, code: r.status } : { ms, startEpochMs, signal: r.signal };
    } finally {
      closeSync(errFd);
    }
  };

  return {
    spawnMode: libc ? 'posix_spawn' : 'spawnSync',
    reapMode: subreaper ? 'subreaper + waitpid' : 'poll /proc',
    run: libc ? runFfi : runNode,
    /** Parallel runs need posix_spawn (koffi); undefined without it. */
    runMany: libc ? runManyFfi : undefined,
    waitExit(pid, timeoutMs = 10_000) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        if (subreaper) {
          const r = libc.waitpid(pid, [0], WNOHANG);
          if (r === pid) return;
          // not our child after all (another subreaper in between): watch /proc instead
          if (r < 0 && libc.koffi.errno() === ECHILD && procGone(pid)) return;
        } else if (procGone(pid)) {
          return;
        }
        if (performance.now() > deadline) throw new Error(`wait for pid ${pid}: still running after ${timeoutMs}ms`);
        sleepMs(POLL_MS);
      }
    },
    /** Reaps every exited child (re-parented inits of killed containers). */
    reapAll() {
      if (!subreaper) return 0;
      let n = 0;
      while (libc.waitpid(-1, [0], WNOHANG) > 0) n++;
      return n;
    },
  };
}
