/**
 * The runc verbs after create: start, state, kill, delete, list (runtime-spec runtime.md
 * "Operations"). Error texts follow runc's where clients match on them.
 */
import { closeSync, openSync, readSync, unlinkSync, constants } from 'node:fs';
import { KapselError, NotFoundError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Syscalls } from '../sys/syscalls.js';
import type { ContainerStatus, Hook, State } from '../oci/runtime-spec.js';
import type { ContainerRecord, StateStore } from './state-store.js';
import { containerStatus } from './status.js';
import { isAlive } from './process-info.js';
import { runHooksWarnOnly } from './hooks.js';
import { ociState } from './oci-state.js';
import { signalProcess, waitGone } from './signals.js';
import { thawRecorded } from './cgroup-cleanup.js';

/** runc's `state` output: the OCI state plus rootfs, created and owner. */
export interface RuntimeState extends State {
  rootfs: string;
  created: string;
  owner: string;
}

export function stateOf(store: StateStore, record: ContainerRecord): RuntimeState {
  const status = containerStatus(store, record);
  return {
    ...ociState(record, status),
    pid: status === 'stopped' ? 0 : record.pid,
    rootfs: record.rootfs,
    created: record.created,
    owner: record.owner,
  };
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function startContainer(sys: Syscalls, store: StateStore, id: string, log: Logger): void {
  store.withLock(sys, id, () => {
    const record = store.read(id);
    const status = containerStatus(store, record);
    if (status !== 'created') {
      if (status === 'stopped') throw new KapselError('ERR_STATE', `cannot start a container that has stopped`);
      throw new KapselError('ERR_STATE', `cannot start a container in the ${status} state`);
    }
    // The init is blocked in open(O_WRONLY) on the fifo: our open lets it through and it
    // writes one byte just before exec. Non-blocking, so an init that died cannot hang us.
    const fifo = openSync(store.fifoPath(id), constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const buf = Buffer.alloc(1);
      for (;;) {
        let n = 0;
        try {
          n = readSync(fifo, buf, 0, 1, null);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        }
        if (n === 1) break;
        if (!isAlive(record.pid, record.pidStartTime)) {
          throw new KapselError('ERR_STATE', `container ${id}: the init exited before start`);
        }
        sleepMs(1);
      }
    } finally {
      closeSync(fifo);
    }
    unlinkSync(store.fifoPath(id));
    runHooksWarnOnly('poststart', record.hooks.poststart as Hook[] | undefined, ociState(record, 'running'), (m) => log.warn(m));
  });
}

export function killContainer(sys: Syscalls, store: StateStore, id: string, signal: number, all: boolean, pidsOf: (r: ContainerRecord) => number[]): void {
  const record = store.read(id);
  const status = containerStatus(store, record);
  if (status === 'stopped' || status === 'creating') throw new KapselError('ERR_STATE', 'container not running');
  if (all) {
    for (const pid of pidsOf(record)) {
      try {
        sys.kill(pid, signal);
      } catch {
        // the process may have exited meanwhile
      }
    }
    if (signal === 9 && status === 'paused') thawRecorded(record);
    return;
  }
  if (!signalProcess(sys, record.pid, record.pidStartTime, signal)) throw new KapselError('ERR_STATE', 'container not running');
  // a frozen process dies of SIGKILL only when thawed (runc thaws too)
  if (signal === 9 && status === 'paused') thawRecorded(record);
}

export interface DeleteDeps {
  /** Kills what is left in the cgroup and removes it. */
  readonly destroyCgroup: (record: ContainerRecord) => Promise<void>;
}

export async function deleteContainer(sys: Syscalls, store: StateStore, id: string, force: boolean, deps: DeleteDeps, log: Logger): Promise<void> {
  let record: ContainerRecord;
  try {
    record = store.read(id);
  } catch (err) {
    // runc: `delete --force` of a container that does not exist succeeds. containerd's shim
    // cleanup (`shim delete`) runs it after the task is gone and logs a failure otherwise.
    if (force && err instanceof NotFoundError) return;
    throw err;
  }
  const status: ContainerStatus = containerStatus(store, record);
  if (status !== 'stopped') {
    if (!force) throw new KapselError('ERR_STATE', `cannot delete container ${id} that is not stopped: ${status}`);
    signalProcess(sys, record.pid, record.pidStartTime, 9);
    if (status === 'paused') thawRecorded(record);
    if (!waitGone(record.pid, record.pidStartTime, 10_000)) {
      throw new KapselError('ERR_STATE', `container ${id}: init ${record.pid} did not die after SIGKILL`);
    }
  }
  await deps.destroyCgroup(record);
  store.remove(id);
  runHooksWarnOnly('poststop', record.hooks.poststop as Hook[] | undefined, ociState(record, 'stopped'), (m) => log.warn(m));
}

export function listContainers(store: StateStore): RuntimeState[] {
  const out: RuntimeState[] = [];
  for (const id of store.list()) {
    try {
      out.push(stateOf(store, store.read(id)));
    } catch {
      // a container deleted while we listed
    }
  }
  return out;
}
