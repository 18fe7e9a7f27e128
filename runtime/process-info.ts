/**
 * Facts about a host process from /proc/<pid>/stat (proc(5)): whether the container init is
 * still the process we started (pid reuse is caught by the start time, field 22).
 */
import { readFileSync } from 'node:fs';

export interface ProcStat {
  readonly state: string;
  readonly ppid: number;
  readonly startTime: string;
}

export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parentheses: fields resume after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0] ?? '?', ppid: Number(rest[1]), startTime: rest[19] ?? '' };
}

/** True while `pid` runs and is the process that started at `startTime` (zombies are dead). */
export function isAlive(pid: number, startTime: string): boolean {
  if (pid <= 0) return false;
  const stat = readProcStat(pid);
  if (stat === undefined) return false;
  if (startTime !== '' && stat.startTime !== startTime) return false;
  return stat.state !== 'Z' && stat.state !== 'X';
}
