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
import { waitForwardingSignals } from './signals.js';

export interface RunOptions extends CreateOptions {
  readonly detach?: boolean;
  /** Keep the stopped container's state (runc run --keep). */
  readonly keep?: boolean;
}

/** Returns the exit status to exit with: the container's, or 128 + signal. */
export async function runContainer(sys: Syscalls, store: StateStore, opts: RunOptions, deps: DeleteDeps, log: Logger): Promise<number> {
  const { pid } = createContainer(sys, store, opts, log);
  try {
    startContainer(sys, store, opts.id, log);
  } catch (err) {
    await deleteContainer(sys, store, opts.id, true, deps, log).catch(() => undefined);
    throw err;
  }
  if (opts.detach) return 0;
  try {
    return await waitForwardingSignals(sys, pid);
  } finally {
    if (!opts.keep) await deleteContainer(sys, store, opts.id, true, deps, log);
  }
}
