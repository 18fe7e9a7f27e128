/**
 * `ps` (runc's verb): the container's processes, as host pids read from its cgroup (every
 * process of every sub-cgroup). `--format json` is a bare JSON array of pids, which containerd
 * decodes; the table runs the host's ps(1) with the given options (default `-ef`) and keeps the
 * header and the lines whose PID column is one of the container's, as runc does.
 */
import { spawnSync } from 'node:child_process';
import { KapselError } from '../common/errors.js';
import type { StateStore } from './state-store.js';
import { containerCgroupManager } from './container-manager.js';

/** Host pids of every process in the container's cgroup, ascending. */
export function containerPids(store: StateStore, id: string): number[] {
  const record = store.read(id);
  if (Object.keys(record.cgroupPaths).length === 0) return [];
  return [...new Set(containerCgroupManager(record).pids())].sort((a, b) => a - b);
}

/** The header line plus the lines of ps(1) output whose PID column is in `pids`. */
export function filterPsOutput(output: string, pids: readonly number[]): string {
  const lines = output.split('\n');
  const header = lines[0] ?? '';
  const pidIndex = header.trim().split(/\s+/).indexOf('PID');
  if (pidIndex < 0) throw new KapselError('ERR_PS', "couldn't find PID field in ps output");
  const wanted = new Set(pids);
  const out = [header];
  for (const line of lines.slice(1)) {
    if (line.trim() === '') continue;
    const field = line.trim().split(/\s+/)[pidIndex];
    const pid = Number(field);
    if (field === undefined || !Number.isInteger(pid)) throw new KapselError('ERR_PS', `unable to parse pid \`${field ?? ''}\` in ps output`);
    if (wanted.has(pid)) out.push(line);
  }
  return `${out.join('\n')}\n`;
}

/** Runs `ps` with `psArgs` (default `-ef`) and keeps the container's lines. */
export function psTable(pids: readonly number[], psArgs: readonly string[]): string {
  const r = spawnSync('ps', psArgs.length > 0 ? [...psArgs] : ['-ef'], { encoding: 'utf8' });
  if (r.error !== undefined) throw new KapselError('ERR_PS', `run ps: ${r.error.message}`, { cause: r.error });
  if (r.status !== 0) throw new KapselError('ERR_PS', `ps ${psArgs.join(' ')} exited with status ${r.status}: ${(r.stdout + r.stderr).trim()}`);
  return filterPsOutput(r.stdout, pids);
}
