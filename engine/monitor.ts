/**
 * The per-container monitor (native/monitor.c) and the policy it runs in TypeScript:
 *
 *   CLI ── spawn (setsid; fds: status pipe, sealed stage memfd, stage socket) ──► kapsel-monitor
 *    │   connect attach.sock ───────────────────────────────────────────────► fork+exec stage
 *    │   runtime create over the stage socket (the init is the monitor's grandchild and is
 *    │   re-parented to it, a subreaper, when the stage exits), start, frame 5 "started"
 *    │                                        monitor: stdio → container.log + attach clients
 *    │                                        init exits → DIR/exit → exec `kapsel __monitor-exit`
 *   __monitor-exit: finalize (exit code, OOMKilled, runtime delete), then --rm / --restart.
 *
 * All policy is here, none in C. Only one Node process runs per `kapsel run`: the CLI itself.
 */
import { attachToNetwork, detachFromNetworks, refreshJoinedNetwork } from './network.js';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { KapselError, NotFoundError } from '../common/errors.js';
import { mark } from '../common/timeline.js';
import { AF_UNIX, SOCK_CLOEXEC, SOCK_SEQPACKET } from '../sys/constants.js';
import { createContainer } from '../runtime/create.js';
import { deleteContainer, startContainer } from '../runtime/lifecycle.js';
import { destroyRecordedCgroup } from '../runtime/cgroup-cleanup.js';
import { readProcStat } from '../runtime/process-info.js';
import { StageProcess, sealedStage } from '../runtime/stage/client.js';
import type { ContainerRecord as RuntimeRecord } from '../runtime/state-store.js';
import type { EngineContext } from './context.js';
import type { ContainerRecord } from './container-store.js';
import { readExitFile } from './status.js';
import { withShortSocketPath } from './socket-path.js';
import { attachSocket, type Attachment, type AttachStreams } from './attach.js';

export interface Monitored {
  readonly pid: number;
  readonly attachment: Attachment;
  /** Resolves when the monitor process (and its exit handler) has exited. */
  readonly exited: Promise<void>;
  /** Lets the CLI exit while the monitor runs on. */
  unref(): void;
}

/** docker's codes for failures to run the command: 127 not found, 126 not executable, else 125. */
export function runErrorStatus(message: string): number {
  return /executable file not found|no such file or directory.*exec|exec: .*not found/i.test(message) ? 127 : /exec: .*(not an executable file|EACCES|permission denied)/i.test(message) ? 126 : 125;
}

const NO_IO: AttachStreams = { stdout: { write: () => true } as unknown as NodeJS.WritableStream, stderr: { write: () => true } as unknown as NodeJS.WritableStream };

/**
 * Starts the container under a new monitor: spawn it, attach, drive the runtime's create over
 * the stage the monitor execs, start. `io` streams the output (attached run); `handoff` means
 * the caller applies the exit policy itself.
 */
export async function startUnderMonitor(ctx: EngineContext, rec: ContainerRecord, opts: { io?: AttachStreams; handoff?: boolean } = {}): Promise<Monitored> {
  const dir = ctx.containers.dir(rec.id);
  for (const f of ['exit', 'init.pid']) rmSync(join(dir, f), { force: true });
  refreshJoinedNetwork(ctx, rec);
  const flags = [
    ...(rec.config.openStdin ? ['-i'] : []),
    ...(rec.config.tty ? ['-t'] : []),
    '-s', String(rec.hostConfig.logMaxBytes), '-n', String(rec.hostConfig.logMaxFiles),
  ];
  const memfd = sealedStage(ctx.sys);
  const [ours, theirs] = ctx.sys.socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC);
  let child;
  try {
    child = spawn(ctx.monitor, [...flags, dir, '--', ...ctx.cli, '__monitor-exit', ctx.storeRoot, ctx.stateRoot, rec.id], {
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', 'pipe', memfd, theirs],
    });
  } finally {
    ctx.sys.close(theirs);
  }
  const status = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  let attachment: Attachment | undefined;
  let adopted = false;
  try {
    await new Promise<void>((resolve, reject) => {
      let text = '';
      status.on('data', (c: Buffer) => {
        text += c.toString();
        if (text.includes('ready\n')) resolve();
      });
      status.on('end', () => reject(new KapselError('ERR_MONITOR', `container ${rec.name}: the monitor exited: ${monitorLog(dir)}`)));
      child.on('error', reject);
    });
    mark(ctx.log, 'monitor ready');
    attachment = await attachSocket(dir, opts.io ?? NO_IO, opts.handoff === true);
    mark(ctx.log, 'attached');
    const { pid } = withShortSocketPath(dir, 'console.sock', (consoleSocket) => createContainer(ctx.sys, ctx.runtime, {
      id: rec.id,
      bundle: dir,
      pidFile: join(dir, 'init.pid'),
      ...(rec.config.tty && { consoleSocket }),
      spawnStage: () => {
        adopted = true; // the runtime closes it with the stage
        return StageProcess.adopt(ctx.sys, ours);
      },
    }, ctx.log));
    try {
      // the network between create and start: the init waits on its exec fifo meanwhile
      mark(ctx.log, 'runtime create');
      attachToNetwork(ctx, rec, pid);
      startContainer(ctx.sys, ctx.runtime, rec.id, ctx.log);
      mark(ctx.log, 'network and runtime start');
    } catch (err) {
      try {
        detachFromNetworks(ctx, rec);
      } catch {
        // the namespace dies with the init: the next network operation drops what is left
      }
      await deleteContainer(ctx.sys, ctx.runtime, rec.id, true, { destroyCgroup: destroyRecordedCgroup }, ctx.log).catch(() => undefined);
      throw err;
    }
    const mon = readProcStat(child.pid ?? 0);
    await ctx.containers.withLock(rec.id, async () => {
      const r = ctx.containers.read(rec.id);
      const common = { startedAt: new Date().toISOString(), monitorPid: child.pid ?? 0, monitorStartTime: mon?.startTime ?? '' };
      // a fast init may have exited and `__monitor-exit` finalized it (and scheduled a restart)
      // before this write: do not undo that by marking the container running again
      const finalized = r.finishedAt !== rec.finishedAt || r.restartCount !== rec.restartCount;
      ctx.containers.write(finalized ? { ...r, ...common } : { ...r, ...common, state: 'running', pid, error: '' });
    });
    attachment.started();
    mark(ctx.log, 'running recorded');
  } catch (err) {
    // the monitor exits when we go away before "started"
    attachment?.close();
    status.destroy();
    await exited;
    const message = err instanceof Error ? err.message : String(err);
    await ctx.containers.withLock(rec.id, async () => {
      const r = ctx.containers.read(rec.id);
      ctx.containers.write({ ...r, state: 'exited', error: message, exitCode: runErrorStatus(message), finishedAt: new Date().toISOString() });
    }).catch(() => undefined);
    throw Object.assign(err instanceof KapselError ? err : new KapselError('ERR_RUN', message, { cause: err }), { exitStatus: runErrorStatus(message) });
  } finally {
    if (!adopted) ctx.sys.close(ours);
  }
  const a = attachment;
  return {
    pid: child.pid ?? 0,
    attachment: a,
    exited,
    unref: () => {
      if (opts.io === undefined) a.close();
      status.destroy();
      child.unref();
    },
  };
}

function monitorLog(dir: string): string {
  try {
    return readFileSync(join(dir, 'monitor.log'), 'utf8').trim();
  } catch {
    return 'no log';
  }
}

/** The OOM kill counter of the container's memory cgroup (v2 memory.events, v1 memory.oom_control). */
function oomKills(rt: RuntimeRecord): number {
  const v2 = rt.cgroupPaths['unified'];
  const v1 = rt.cgroupPaths['memory'];
  try {
    if (v1 !== undefined) return Number(/^oom_kill (\d+)/m.exec(readFileSync(join(v1, 'memory.oom_control'), 'utf8'))?.[1] ?? 0);
    if (v2 !== undefined) return Number(/^oom_kill (\d+)/m.exec(readFileSync(join(v2, 'memory.events'), 'utf8'))?.[1] ?? 0);
  } catch {
    // no memory controller
  }
  return 0;
}

/**
 * After the init exited (or was found dead): exit code, finish time and OOMKilled into the
 * record, the runtime's state and cgroups deleted. Idempotent; call under the container's lock.
 * `persist: false` returns the final record without writing it (the caller removes the container).
 */
export async function finalizeExit(ctx: EngineContext, rec: ContainerRecord, force = false, persist = true): Promise<ContainerRecord> {
  let oom = false;
  try {
    const rt = ctx.runtime.read(rec.id);
    oom = oomKills(rt) > 0;
    await deleteContainer(ctx.sys, ctx.runtime, rec.id, force, { destroyCgroup: destroyRecordedCgroup }, ctx.log);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
  // address, veth, published ports and the peers' hosts entries go with the init (a restart
  // attaches again, with the same --ip if one was asked for)
  try {
    detachFromNetworks(ctx, rec);
  } catch (err) {
    ctx.log.warn(`detach container ${rec.name} from its network: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (rec.state === 'exited' && !force) return rec;
  const exit = readExitFile(ctx.containers.dir(rec.id));
  const out: ContainerRecord = {
    ...rec,
    state: 'exited',
    pid: 0,
    exitCode: exit?.exitCode ?? (rec.state === 'exited' ? rec.exitCode : 137),
    finishedAt: exit?.finishedAt ?? new Date().toISOString(),
    oomKilled: oom || rec.oomKilled,
  };
  if (persist) ctx.containers.write(out);
  return out;
}

export function shouldRestart(rec: ContainerRecord): boolean {
  if (rec.manuallyStopped || rec.hostConfig.autoRemove) return false;
  const p = rec.hostConfig.restartPolicy;
  if (p.name === 'always' || p.name === 'unless-stopped') return true;
  if (p.name === 'on-failure') return rec.exitCode !== 0 && (p.maximumRetryCount === 0 || rec.restartCount < p.maximumRetryCount);
  return false;
}

/**
 * `__monitor-exit` (the monitor execs it when the init exited): finalize, then --rm or --restart.
 * Failures are recorded in the container's record (inspect's State.Error) and thrown, so the CLI
 * writes them to DIR/monitor.log (the monitor's stderr).
 */
export async function monitorExit(ctx: EngineContext, id: string, remove: (rec: ContainerRecord) => Promise<void>): Promise<void> {
  try {
    await applyExitPolicy(ctx, id, remove);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    await ctx.containers.withLock(id, async () => {
      const r = ctx.containers.read(id);
      ctx.containers.write({ ...r, error: `exit handling: ${message}` });
    }).catch(() => undefined);
    throw err;
  }
}

async function applyExitPolicy(ctx: EngineContext, id: string, remove: (rec: ContainerRecord) => Promise<void>): Promise<void> {
  let finalizeError: unknown;
  const rec = await ctx.containers.withLock(id, async () => {
    const before = ctx.containers.read(id);
    let r: ContainerRecord;
    try {
      r = await finalizeExit(ctx, before);
    } catch (err) {
      // e.g. a cgroup still busy on a loaded machine: force the cleanup, keep the exit policy
      finalizeError = err;
      r = await finalizeExit(ctx, before, true);
    }
    if (!shouldRestart(r)) return r;
    const next = { ...r, state: 'restarting' as const, restartCount: r.restartCount + 1 };
    ctx.containers.write(next);
    return next;
  });
  if (finalizeError !== undefined) ctx.log.warn(`container ${rec.name}: finalize after exit (retried with force): ${finalizeError instanceof Error ? finalizeError.message : String(finalizeError)}`);
  if (rec.hostConfig.autoRemove) return remove(rec);
  if (rec.state !== 'restarting') return;
  // docker's back-off: 100 ms doubling, at most 1 minute
  const delayMs = Math.min(100 * 2 ** Math.min(rec.restartCount - 1, 10), 60_000);
  await new Promise((r) => setTimeout(r, delayMs));
  const again = ctx.containers.read(id);
  if (again.manuallyStopped || again.state !== 'restarting') return;
  // a failed start is recorded by startUnderMonitor (state exited, State.Error) and thrown here
  const m = await startUnderMonitor(ctx, again);
  m.unref();
}
