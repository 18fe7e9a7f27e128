/**
 * Waiting for a detached container's init from outside the runtime.
 *
 * After `create` the runtime process exits and the init is re-parented to the nearest child
 * subreaper (prctl(2) PR_SET_CHILD_SUBREAPER) or to pid 1. Pid 1 on a bench host may not reap
 * (this one does not), so the measuring process makes itself a subreaper: the init becomes its
 * child, waitpid(2) works on it and no zombie is left behind. Without koffi (the FFI library in
 * kapsel's node_modules) it falls back to polling /proc/<pid>/stat for "gone or zombie".
 */
import { readFileSync } from 'node:fs';

const PR_SET_CHILD_SUBREAPER = 36; // <linux/prctl.h>
const WNOHANG = 1; // <bits/waitflags.h>
const ECHILD = 10;
const POLL_MS = 0.1;

function sleepMs(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** @returns {Promise<{ mode: 'subreaper' | 'proc-poll', waitExit(pid: number, timeoutMs?: number): void, reapAll(): number }>} */
export async function openReaper() {
  let libc;
  try {
    const koffi = (await import('koffi')).default;
    const lib = koffi.load('libc.so.6');
    libc = {
      koffi,
      // FFI: scalar arguments only; nothing is retained by the kernel.
      prctl: lib.func('int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)'),
      // FFI: `status` is an int the callee writes; koffi copies it into the one-element array.
      waitpid: lib.func('int waitpid(int pid, _Out_ int *status, int options)'),
    };
    if (libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) !== 0) libc = undefined;
  } catch {
    libc = undefined;
  }

  const procGone = (pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      // field 3 (state) follows the parenthesised comm, which may itself contain ')'
      return stat[stat.lastIndexOf(')') + 2] === 'Z';
    } catch {
      return true;
    }
  };

  return {
    mode: libc ? 'subreaper' : 'proc-poll',
    waitExit(pid, timeoutMs = 10_000) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        if (libc) {
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
      if (!libc) return 0;
      let n = 0;
      while (libc.waitpid(-1, [0], WNOHANG) > 0) n++;
      return n;
    },
  };
}
