/**
 * `run` = create + start + wait (+ delete), like `runc run`. The runtime becomes a child
 * subreaper first, so when the stage's intermediate process exits the init is reparented to us
 * and its exit status can be collected; signals we receive are forwarded to it.
 */
import { SIGNALS } from '../sys/constants.js';
import type { Syscalls } from '../sys/syscalls.js';
import type { Logger } from '../common/log.js';
import type { StateStore } from './state-store.js';
import { createContainer, type CreateOptions } from './create.js';
import { startContainer, deleteContainer, type DeleteDeps } from './lifecycle.js';

export interface RunOptions extends CreateOptions {
  readonly detach?: boolean;
  /** Keep the stopped container's state (runc run --keep). */
  readonly keep?: boolean;
}

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT'];

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
    if (!opts.keep) await deleteContainer(sys, store, opts.id, true, deps, log);
  }
}
