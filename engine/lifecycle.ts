/**
 * The docker-like verbs over containers: run, start, stop, kill, restart, rm, wait.
 * Every verb takes a name, full id or unique id prefix.
 */
import { KapselError } from '../common/errors.js';
import { mark } from '../common/timeline.js';
import { killContainer } from '../runtime/lifecycle.js';
import { parseSignal, signalProcess } from '../runtime/signals.js';
import { recordedPids } from '../runtime/cgroup-cleanup.js';
import type { EngineContext } from './context.js';
import type { ContainerRecord } from './container-store.js';
import { createContainerFromImage } from './create.js';
import type { RunFlags } from './run-config.js';
import { finalizeExit, startUnderMonitor } from './monitor.js';
import { deriveState, monitorAlive } from './status.js';
import type { AttachStreams } from './attach.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface RunResult {
  readonly id: string;
  /** The container's exit status when attached. */
  readonly status?: number;
}

export interface AttachOptions extends AttachStreams {
  /** Called with the attachment once connected (the CLI wires signals and window size). */
  readonly onAttach?: (a: { resize(rows: number, cols: number): void }, id: string) => void;
}

/** `kapsel run`: create, then start under a monitor; attached unless `detach`. */
export async function runContainer(ctx: EngineContext, f: RunFlags, io?: AttachOptions): Promise<RunResult> {
  const rec = await createContainerFromImage(ctx, f);
  const attach = f.detach !== true && io !== undefined;
  // without a restart policy an attached run applies the exit policy here, in a warm process:
  // the monitor then does not exec a new node for it (it does if we go away before saying done)
  const handoff = attach && rec.hostConfig.restartPolicy.name === 'no';
  let mon;
  try {
    mon = await startUnderMonitor(ctx, rec, { ...(attach && { io }), handoff });
  } catch (err) {
    if (rec.hostConfig.autoRemove) await removeContainer(ctx, rec.id, { force: true });
    throw err;
  }
  if (!attach) {
    mon.unref();
    return { id: rec.id };
  }
  io.onAttach?.(mon.attachment, rec.id);
  const result = await mon.attachment.done;
  mark(ctx.log, 'container exited');
  if (handoff) {
    // the monitor waits for our "done" (frame 4); if we die before, it runs `__monitor-exit`,
    // which finalizes and removes under the same lock
    const autoRemove = rec.hostConfig.autoRemove;
    const last = await ctx.containers.withLock(rec.id, async () => finalizeExit(ctx, ctx.containers.read(rec.id), autoRemove, !autoRemove));
    mark(ctx.log, 'exit finalized');
    // --rm: removed before we return, as docker does: runtime state and cgroups went with
    // finalizeExit; the name, overlay and directory go here
    if (autoRemove) ctx.containers.remove(rec.id, last.name);
    mon.attachment.finish();
    mark(ctx.log, autoRemove ? 'removed' : 'monitor told');
  }
  await mon.exited;
  mark(ctx.log, 'monitor exited');
  return { id: rec.id, status: result.status };
}

/** Sends `signal` to the container's init through the runtime (pidfd). */
export function signalContainer(ctx: EngineContext, id: string, signal: number): void {
  if (!ctx.runtime.exists(id)) throw new KapselError('ERR_STATE', `container ${id.slice(0, 12)} is not running`);
  killContainer(ctx.sys, ctx.runtime, id, signal, false, recordedPids);
}

export async function killByRef(ctx: EngineContext, ref: string, signalText = 'SIGKILL'): Promise<string> {
  const id = ctx.containers.resolve(ref);
  const signal = parseSignal(signalText);
  await ctx.containers.withLock(id, async () => {
    const rec = ctx.containers.read(id);
    if (deriveState(ctx, rec).status !== 'running' && deriveState(ctx, rec).status !== 'paused') {
      throw new KapselError('ERR_STATE', `container ${rec.name} is not running`);
    }
    if (signal === 9 || signal === 15) ctx.containers.write({ ...rec, manuallyStopped: true });
  });
  signalContainer(ctx, id, signal);
  return id;
}

/** Waits until the container has exited and its exit handler finished (or the monitor is gone). */
export async function waitExited(ctx: EngineContext, id: string, timeoutMs = Infinity): Promise<ContainerRecord | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let rec: ContainerRecord;
    try {
      rec = ctx.containers.read(id);
    } catch {
      return undefined; // removed (--rm)
    }
    const s = deriveState(ctx, rec);
    if (s.status === 'exited') {
      if (!monitorAlive(rec)) {
        // a killed monitor leaves the runtime's state behind: finalize it ourselves
        if (ctx.runtime.exists(id) || rec.state !== 'exited') {
          return ctx.containers.withLock(id, async () => finalizeExit(ctx, ctx.containers.read(id)));
        }
        return rec;
      }
    }
    if (Date.now() >= deadline) return rec;
    await sleep(50);
  }
}

/** `kapsel stop`: the stop signal, `timeoutS` to exit, then SIGKILL. */
export async function stopContainer(ctx: EngineContext, ref: string, timeoutS?: number): Promise<string> {
  const id = ctx.containers.resolve(ref);
  const rec = await ctx.containers.withLock(id, async () => {
    const r = { ...ctx.containers.read(id), manuallyStopped: true };
    ctx.containers.write(r);
    return r;
  });
  const s = deriveState(ctx, rec);
  if (s.status !== 'running' && s.status !== 'paused' && s.status !== 'restarting') return id;
  try {
    signalContainer(ctx, id, parseSignal(rec.config.stopSignal));
  } catch {
    // exited meanwhile
  }
  const graceMs = (timeoutS ?? 10) * 1000;
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && deriveState(ctx, ctx.containers.read(id)).status === 'running') await sleep(50);
  if (deriveState(ctx, ctx.containers.read(id)).status === 'running' || deriveState(ctx, ctx.containers.read(id)).status === 'paused') {
    try {
      signalContainer(ctx, id, 9);
    } catch {
      // exited meanwhile
    }
  }
  await waitExited(ctx, id, 30_000);
  return id;
}

/** `kapsel start` of a created or exited container (detached). */
export async function startByRef(ctx: EngineContext, ref: string): Promise<string> {
  const id = ctx.containers.resolve(ref);
  const rec = await ctx.containers.withLock(id, async () => {
    const r = ctx.containers.read(id);
    const s = deriveState(ctx, r);
    if (s.status === 'running' || s.status === 'paused') return undefined;
    if (monitorAlive(r)) throw new KapselError('ERR_STATE', `container ${r.name} is ${s.status}`);
    if (ctx.runtime.exists(id)) await finalizeExit(ctx, r, true);
    const next: ContainerRecord = { ...ctx.containers.read(id), manuallyStopped: false, state: 'created', error: '' };
    ctx.containers.write(next);
    return next;
  });
  if (rec === undefined) return id;
  (await startUnderMonitor(ctx, rec)).unref();
  return id;
}

export async function restartContainer(ctx: EngineContext, ref: string, timeoutS?: number): Promise<string> {
  const id = await stopContainer(ctx, ref, timeoutS);
  return startByRef(ctx, id);
}

/** `kapsel rm [-f]`: kills a running container with -f; removes runtime state, monitor, files, name. */
export async function removeContainer(ctx: EngineContext, ref: string, opts: { force: boolean }): Promise<string> {
  const id = ctx.containers.resolve(ref);
  await ctx.containers.withLock(id, async () => {
    const rec = ctx.containers.read(id);
    const s = deriveState(ctx, rec);
    if ((s.status === 'running' || s.status === 'paused' || s.status === 'restarting') && !opts.force) {
      throw new KapselError('ERR_STATE', `cannot remove container ${rec.name}: it is ${s.status}`, { hint: 'stop it first, or use rm -f' });
    }
    ctx.containers.write({ ...rec, manuallyStopped: true });
    // the monitor (or its exit handler) of this container, if any: it must not restart it
    if (monitorAlive(rec) && rec.monitorPid !== process.pid && rec.monitorPid !== process.ppid) {
      signalProcess(ctx.sys, rec.monitorPid, rec.monitorStartTime, 9);
    }
    await finalizeExit(ctx, { ...rec, manuallyStopped: true }, true);
  });
  ctx.containers.remove(id, ctx.containers.read(id).name);
  return id;
}

/** `kapsel wait`: blocks until the container exits; returns its exit code. */
export async function waitContainer(ctx: EngineContext, ref: string): Promise<number> {
  const id = ctx.containers.resolve(ref);
  for (;;) {
    const rec = await waitExited(ctx, id);
    if (rec === undefined) throw new KapselError('ERR_STATE', `container ${ref} was removed`);
    if (rec.state !== 'restarting' || !monitorAlive(rec)) return rec.exitCode;
    await sleep(50);
  }
}

/**
 * `kapsel container prune`: removes every exited (or never started) container, and the leftovers
 * of creates that died before writing a record; returns their ids.
 */
export async function pruneContainers(ctx: EngineContext): Promise<string[]> {
  const removed: string[] = [];
  for (const o of ctx.containers.orphans()) {
    ctx.containers.remove(o.id, o.name);
    removed.push(o.id);
  }
  for (const id of ctx.containers.ids()) {
    let rec: ContainerRecord;
    try {
      rec = ctx.containers.read(id);
    } catch {
      continue;
    }
    const s = deriveState(ctx, rec).status;
    if ((s === 'exited' || s === 'created') && !monitorAlive(rec)) {
      await removeContainer(ctx, id, { force: false }).then(() => removed.push(id), () => undefined);
    }
  }
  return removed;
}
