/**
 * The per-container monitor (native/monitor.c) and the two TypeScript steps it runs:
 *
 *   CLI ── spawn (setsid) ──► kapsel-monitor DIR -- node kapsel.js __monitor-create ... -- node kapsel.js __monitor-exit ...
 *                              │ subreaper, holds stdio, writes container.log
 *                              ├─ fork+exec __monitor-create: runtime create + start (init reparents to the monitor)
 *                              │  "ok PID" / "fail STATUS" on fd 3 to the CLI
 *                              └─ init exits: DIR/exit, then exec __monitor-exit: finalize, --rm, --restart
 *
 * All policy is here, none in C.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KapselError, NotFoundError } from '../common/errors.js';
import { createContainer } from '../runtime/create.js';
import { deleteContainer, startContainer } from '../runtime/lifecycle.js';
import { destroyRecordedCgroup } from '../runtime/cgroup-cleanup.js';
import { readProcStat } from '../runtime/process-info.js';
import type { ContainerRecord as RuntimeRecord } from '../runtime/state-store.js';
import type { EngineContext } from './context.js';
import type { ContainerRecord } from './container-store.js';
import { readExitFile } from './status.js';
import { withShortSocketPath } from './socket-path.js';

export interface MonitorHandle {
  readonly pid: number;
  /** Resolves with the init pid once the container runs; rejects with the create error. */
  readonly started: Promise<number>;
  /** Resolves when the monitor process (and its exit handler) has exited. */
  readonly exited: Promise<void>;
  /** Resolves once the monitor listens on attach.sock. */
  readonly ready: Promise<void>;
  unref(): void;
}

/** docker's codes for failures to run the command: 127 not found, 126 not executable, else 125. */
export function runErrorStatus(message: string): number {
  return /executable file not found|no such file or directory.*exec|exec: .*not found/i.test(message) ? 127 : /exec: .*(not an executable file|EACCES|permission denied)/i.test(message) ? 126 : 125;
}

export function spawnMonitor(ctx: EngineContext, rec: ContainerRecord, opts: { attach: boolean }): MonitorHandle {
  const dir = ctx.containers.dir(rec.id);
  for (const f of ['exit', 'init.pid', 'create.err']) rmSync(join(dir, f), { force: true });
  const roots = [ctx.storeRoot, ctx.stateRoot, rec.id];
  const flags = [
    ...(rec.config.openStdin ? ['-i'] : []),
    ...(rec.config.tty ? ['-t'] : []),
    ...(opts.attach ? ['-a'] : []),
    '-s', String(rec.hostConfig.logMaxBytes), '-n', String(rec.hostConfig.logMaxFiles),
  ];
  const args = [...flags, dir, '--', ...ctx.cli, '__monitor-create', ...roots, '--', ...ctx.cli, '__monitor-exit', ...roots];
  const child = spawn(ctx.monitor, args, { detached: true, stdio: ['ignore', 'ignore', 'ignore', 'pipe'], env: { ...process.env, KAPSEL_MONITOR_CHILD: '1' } });
  const status = child.stdio[3] as NodeJS.ReadableStream;
  let text = '';
  let onReady: () => void = () => undefined;
  let onFail: (e: Error) => void = () => undefined;
  const ready = new Promise<void>((res, rej) => { onReady = res; onFail = rej; });
  const started = new Promise<number>((resolve, reject) => {
    status.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('ready\n')) onReady();
    });
    status.on('end', () => {
      const ok = /ok (\d+)/.exec(text);
      if (ok) return resolve(Number(ok[1]));
      const fail = /fail (\d+)/.exec(text);
      let message = `container ${rec.name}: the monitor exited before the container started`;
      try {
        message = readFileSync(join(dir, 'create.err'), 'utf8').trim() || message;
      } catch {
        try {
          message += `: ${readFileSync(join(dir, 'monitor.log'), 'utf8').trim()}`;
        } catch {
          // nothing more to say
        }
      }
      const err = new KapselError('ERR_RUN', message);
      (err as KapselError & { exitStatus?: number }).exitStatus = fail ? runErrorStatus(message) : 125;
      onFail(err);
      reject(err);
    });
  });
  started.catch(() => undefined);
  ready.catch(() => undefined);
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  child.on('error', (e) => onFail(e));
  return {
    pid: child.pid ?? 0,
    started,
    exited,
    ready,
    unref: () => {
      child.unref();
      (status as unknown as { unref?: () => void }).unref?.();
      (status as unknown as { destroy?: () => void }).destroy?.();
    },
  };
}

/**
 * `__monitor-create` (runs as the monitor's child, stdio = the container's): runtime create and
 * start, init pid to DIR/init.pid, the record to running. Errors go to DIR/create.err.
 */
export async function monitorCreate(ctx: EngineContext, id: string): Promise<number> {
  const dir = ctx.containers.dir(id);
  try {
    const rec = ctx.containers.read(id);
    const { pid } = withShortSocketPath(dir, 'console.sock', (consoleSocket) => createContainer(ctx.sys, ctx.runtime, {
      id,
      bundle: dir,
      pidFile: join(dir, 'init.pid'),
      ...(rec.config.tty && { consoleSocket }),
    }, ctx.log));
    try {
      startContainer(ctx.sys, ctx.runtime, id, ctx.log);
    } catch (err) {
      await deleteContainer(ctx.sys, ctx.runtime, id, true, { destroyCgroup: destroyRecordedCgroup }, ctx.log).catch(() => undefined);
      throw err;
    }
    await ctx.containers.withLock(id, async () => {
      const r = ctx.containers.read(id);
      const mon = readProcStat(process.ppid);
      ctx.containers.write({ ...r, state: 'running', pid, startedAt: new Date().toISOString(), monitorPid: process.ppid, monitorStartTime: mon?.startTime ?? '', error: '' });
    });
    return 0;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    writeFileSync(join(dir, 'create.err'), message);
    await ctx.containers.withLock(id, async () => {
      const r = ctx.containers.read(id);
      ctx.containers.write({ ...r, state: 'exited', error: message, exitCode: runErrorStatus(message), finishedAt: new Date().toISOString() });
    }).catch(() => undefined);
    return runErrorStatus(message);
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
 */
export async function finalizeExit(ctx: EngineContext, rec: ContainerRecord, force = false): Promise<ContainerRecord> {
  let oom = false;
  try {
    const rt = ctx.runtime.read(rec.id);
    oom = oomKills(rt) > 0;
    await deleteContainer(ctx.sys, ctx.runtime, rec.id, force, { destroyCgroup: destroyRecordedCgroup }, ctx.log);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
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
  ctx.containers.write(out);
  return out;
}

export function shouldRestart(rec: ContainerRecord): boolean {
  if (rec.manuallyStopped || rec.hostConfig.autoRemove) return false;
  const p = rec.hostConfig.restartPolicy;
  if (p.name === 'always' || p.name === 'unless-stopped') return true;
  if (p.name === 'on-failure') return rec.exitCode !== 0 && (p.maximumRetryCount === 0 || rec.restartCount < p.maximumRetryCount);
  return false;
}

/** `__monitor-exit` (the monitor execs it when the init exited): finalize, then --rm or --restart. */
export async function monitorExit(ctx: EngineContext, id: string, remove: (rec: ContainerRecord) => Promise<void>): Promise<void> {
  const rec = await ctx.containers.withLock(id, async () => {
    const r = await finalizeExit(ctx, ctx.containers.read(id));
    if (!shouldRestart(r)) return r;
    const next = { ...r, state: 'restarting' as const, restartCount: r.restartCount + 1 };
    ctx.containers.write(next);
    return next;
  });
  if (rec.hostConfig.autoRemove) return remove(rec);
  if (rec.state !== 'restarting') return;
  // docker's back-off: 100 ms doubling, at most 1 minute
  const delayMs = Math.min(100 * 2 ** Math.min(rec.restartCount - 1, 10), 60_000);
  await new Promise((r) => setTimeout(r, delayMs));
  const again = ctx.containers.read(id);
  if (again.manuallyStopped || again.state !== 'restarting') return;
  const m = spawnMonitor(ctx, again, { attach: false });
  await m.started.catch(() => undefined);
  m.unref();
}
