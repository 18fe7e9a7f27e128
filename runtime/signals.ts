/** Signal names and delivery (signal(7)); kill(1)-style names with or without SIG, or numbers. */
import { SIGNALS, SIGRTMAX, SIGRTMIN } from '../sys/constants.js';
import type { Syscalls } from '../sys/syscalls.js';
import { KapselError } from '../common/errors.js';
import { isErrno } from '../sys/syscall-error.js';
import { isAlive } from './process-info.js';

export function parseSignal(text: string): number {
  const t = text.trim().toUpperCase();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n >= 1 && n <= SIGRTMAX) return n;
  } else {
    const name = t.startsWith('SIG') ? t : `SIG${t}`;
    const n = SIGNALS[name];
    if (n !== undefined) return n;
    const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name) ?? /^SIGRTMAX(?:-(\d+))?$/.exec(name);
    if (rt) {
      const off = Number(rt[1] ?? 0);
      const n2 = name.startsWith('SIGRTMIN') ? SIGRTMIN + off : SIGRTMAX - off;
      if (n2 >= SIGRTMIN && n2 <= SIGRTMAX) return n2;
    }
  }
  throw new KapselError('ERR_USAGE', `invalid signal \`${text}\``);
}

/** Sends `signal` to `pid` through a pidfd, so a reused pid is never signalled by mistake. */
export function signalProcess(sys: Syscalls, pid: number, startTime: string, signal: number): boolean {
  let pidfd: number;
  try {
    pidfd = sys.pidfdOpen(pid);
  } catch (err) {
    if (isErrno(err, 'ESRCH')) return false;
    throw err;
  }
  try {
    if (!isAlive(pid, startTime)) return false;
    sys.pidfdSendSignal(pidfd, signal);
    return true;
  } catch (err) {
    if (isErrno(err, 'ESRCH')) return false;
    throw err;
  } finally {
    sys.close(pidfd);
  }
}

/** Busy-waits (in small sleeps) until `pid` is gone or a zombie, up to `timeoutMs`. */
export function waitGone(pid: number, startTime: string, timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  while (Date.now() < deadline) {
    if (!isAlive(pid, startTime)) return true;
    Atomics.wait(sleeper, 0, 0, 5);
  }
  return !isAlive(pid, startTime);
}

/**
 * SIGKILL and wait until the process has died; reap it when it is our child (the runtime is
 * its subreaper during `run`): a zombie still holds its cgroup, which then cannot be removed.
 * `reap` reaps it when another process is its subreaper (the front of `kapsel-runtime daemon`).
 */
export function killAndReap(sys: Syscalls, pid: number, startTime: string, reap?: (pid: number) => void): void {
  if (signalProcess(sys, pid, startTime, 9)) waitGone(pid, startTime, 10_000);
  if (reap !== undefined) {
    reap(pid);
    return;
  }
  try {
    sys.waitpid(pid, 1 /* WNOHANG */);
  } catch {
    // ECHILD: not ours; its parent reaps it
  }
}

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT'];

/**
 * Waits for our child `pid` (the runtime is its subreaper) while forwarding the signals this
 * process receives to it; returns the exit status to exit with: its own, or 128 + signal.
 */
export async function waitForwardingSignals(sys: Syscalls, pid: number): Promise<number> {
  const handlers = FORWARDED.map((name) => {
    const handler = (): void => {
      try {
        sys.kill(pid, SIGNALS[name] ?? 15);
      } catch {
        // already gone
      }
    };
    process.on(name, handler);
    return { name, handler };
  });
  try {
    const result = await sys.waitpidAsync(pid);
    return result.exitCode ?? 128 + (result.signal ?? 0);
  } finally {
    for (const h of handlers) process.off(h.name, h.handler);
  }
}
