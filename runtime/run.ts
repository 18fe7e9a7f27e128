/**
 * `run` = create + start + wait (+ delete), like `runc run`. The runtime becomes a child
 * subreaper first, so when the stage's intermediate process exits the init is reparented to us
 * and its exit status can be collected; signals we receive are forwarded to it.
 */
import type { Syscalls } from '../sys/syscalls.js';
import type { Logger } from '../common/log.js';
import type { StateStore } from './state-store.js';
import { createContainer, type CreateOptions } from './create.js';
import { startContainer, deleteContainer, type DeleteDeps } from './lifecycle.js';
import { killAndReap, waitForwardingSignals } from './signals.js';

export interface RunOptions extends CreateOptions {
  readonly detach?: boolean;
  /** Keep the stopped container's state (runc run --keep). */
  readonly keep?: boolean;
}

/**
 * create + start; a container that fails to start is killed, reaped and deleted. Returns the
 * running init's pid (the daemon's front waits for it; runContainer below does itself).
 */
export async function createAndStart(sys: Syscalls, store: StateStore, opts: CreateOptions, deps: DeleteDeps, log: Logger): Promise<number> {
  const { pid, record } = createContainer(sys, store, opts, log);
  try {
    startContainer(sys, store, opts.id, log);
  } catch (err) {
    killAndReap(sys, pid, record.pidStartTime, opts.reapInit); // a zombie would hold its cgroup
    await deleteContainer(sys, store, opts.id, true, deps, log).catch(() => undefined);
    throw err;
  }
  return pid;
}

/** Returns the exit status to exit with: the container's, or 128 + signal. */
export async function runContainer(sys: Syscalls, store: StateStore, opts: RunOptions, deps: DeleteDeps, log: Logger): Promise<number> {
  const pid = await createAndStart(sys, store, opts, deps, log);
  if (opts.detach) return 0;
  try {
    return await waitForwardingSignals(sys, pid);
  } finally {
    if (!opts.keep) await deleteContainer(sys, store, opts.id, true, deps, log);
  }
}
