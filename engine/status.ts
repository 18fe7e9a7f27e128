/**
 * A container's status as docker names it (created, running, paused, restarting, exited),
 * derived from the runtime's state and process liveness first and from the engine's record only
 * when the runtime knows nothing: a killed monitor or CLI cannot make `ps` lie.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { containerStatus } from '../runtime/status.js';
import { isAlive } from '../runtime/process-info.js';
import type { ContainerRecord } from './container-store.js';
import type { EngineContext } from './context.js';

export type EngineStatus = 'created' | 'running' | 'paused' | 'restarting' | 'exited';

export interface ExitInfo {
  /** The exit code, or 128 + signal (docker's convention). */
  readonly exitCode: number;
  readonly finishedAt: string;
}

/** The monitor's DIR/exit: "CODE SIGNAL SECONDS NANOS" (CODE -1 when killed by SIGNAL). */
export function readExitFile(dir: string): ExitInfo | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, 'exit'), 'utf8');
  } catch {
    return undefined;
  }
  const [code, sig, sec, ns] = text.trim().split(' ').map(Number);
  if (code === undefined || sig === undefined || sec === undefined || ns === undefined) return undefined;
  const finishedAt = new Date(sec * 1000).toISOString().replace(/\.\d+Z$/, `.${String(ns).padStart(9, '0')}Z`);
  return { exitCode: code >= 0 ? code : 128 + sig, finishedAt };
}

export function monitorAlive(rec: ContainerRecord): boolean {
  return isAlive(rec.monitorPid, rec.monitorStartTime);
}

export interface DerivedState {
  readonly status: EngineStatus;
  readonly pid: number;
  readonly exitCode: number;
}

export function deriveState(ctx: EngineContext, rec: ContainerRecord): DerivedState {
  if (ctx.runtime.exists(rec.id)) {
    try {
      const rt = ctx.runtime.read(rec.id);
      const s = containerStatus(ctx.runtime, rt);
      if (s === 'running' || s === 'paused') return { status: s, pid: rt.pid, exitCode: 0 };
      if (s === 'created' || s === 'creating') return { status: 'created', pid: 0, exitCode: 0 };
      // the init is gone but nobody finalized yet (the monitor is draining, or was killed)
      const exit = readExitFile(ctx.containers.dir(rec.id));
      return { status: 'exited', pid: 0, exitCode: exit?.exitCode ?? rec.exitCode };
    } catch {
      // deleted while we looked: fall through to the record
    }
  }
  if (rec.state === 'restarting' && monitorAlive(rec)) return { status: 'restarting', pid: 0, exitCode: rec.exitCode };
  if (rec.state === 'created' && (monitorAlive(rec) || rec.startedAt === '')) return { status: 'created', pid: 0, exitCode: 0 };
  if (rec.state === 'running' && monitorAlive(rec) && !existsSync(join(ctx.containers.dir(rec.id), 'exit'))) {
    // between the runtime's delete and the record update in the exit handler
    return { status: 'running', pid: 0, exitCode: 0 };
  }
  const exit = rec.state === 'exited' ? undefined : readExitFile(ctx.containers.dir(rec.id));
  return { status: 'exited', pid: 0, exitCode: exit?.exitCode ?? rec.exitCode };
}
