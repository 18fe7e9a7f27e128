/**
 * `pause` and `resume` (runc's verbs; runtime-spec leaves them out): freeze every process of the
 * container with the v1 freezer (freezer.state) or v2 cgroup.freeze, and thaw it again. The
 * status `paused` is derived from the same files (status.ts), so `state` reports it at once.
 * Error texts are runc's (libcontainer ErrNotRunning, ErrNotPaused): clients match them.
 */
import { KapselError } from '../common/errors.js';
import type { Syscalls } from '../sys/syscalls.js';
import type { StateStore } from './state-store.js';
import { containerStatus, isFrozen } from './status.js';
import { containerCgroupManager, withContainerLockAsync } from './container-manager.js';

/** Freezes a running or created container (runc allows both). */
export function pauseContainer(sys: Syscalls, store: StateStore, id: string): Promise<void> {
  return withContainerLockAsync(sys, store, id, async () => {
    const record = store.read(id);
    const status = containerStatus(store, record);
    if (status !== 'running' && status !== 'created') throw new KapselError('ERR_STATE', 'container not running');
    await containerCgroupManager(record).freeze();
  });
}

export function resumeContainer(sys: Syscalls, store: StateStore, id: string): Promise<void> {
  return withContainerLockAsync(sys, store, id, async () => {
    const record = store.read(id);
    // A created container can be paused too; status.ts reports it `created` (the fifo is
    // checked first), so the freezer itself decides here.
    const status = containerStatus(store, record);
    if (status === 'stopped' || status === 'creating' || !isFrozen(record)) throw new KapselError('ERR_STATE', 'container not paused');
    await containerCgroupManager(record).thaw();
  });
}
