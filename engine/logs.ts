/**
 * `kapsel logs`: the monitor's json-file lines ({"log","stream","time"}), oldest rotated file
 * first; --tail N, --since, -t (timestamps), -f (follow until the container exits).
 */
import { existsSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import { UsageError } from '../common/errors.js';
import type { EngineContext } from './context.js';
import { deriveState, monitorAlive } from './status.js';

export interface LogLine {
  readonly log: string;
  readonly stream: 'stdout' | 'stderr';
  readonly time: string;
}

export interface LogsOptions {
  readonly tail?: number | undefined;
  readonly since?: string | undefined;
  readonly follow?: boolean;
  readonly timestamps?: boolean;
}

/** `--since`: RFC 3339, unix seconds, or a duration like 10m, 1h30m, 45s. */
export function parseSince(text: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const d = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (d && text !== '') return now - ((Number(d[1] ?? 0) * 60 + Number(d[2] ?? 0)) * 60 + Number(d[3] ?? 0)) * 1000;
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new UsageError(`invalid --since \`${text}\`: use a time (2024-01-02T15:04:05Z), unix seconds or a duration (10m)`);
  return t;
}

function readFrom(path: string, offset: number): { text: string; size: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return { text: '', size: offset };
  }
  try {
    const size = statSync(path).size;
    if (size <= offset) return { text: '', size };
    const buf = Buffer.alloc(size - offset);
    const n = readSync(fd, buf, 0, buf.length, offset);
    return { text: buf.subarray(0, n).toString(), size: offset + n };
  } finally {
    closeSync(fd);
  }
}

function parseLines(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      out.push(JSON.parse(line) as LogLine);
    } catch {
      // a torn last line of a crashed monitor
    }
  }
  return out;
}

export async function streamLogs(ctx: EngineContext, ref: string, opts: LogsOptions, emit: (l: LogLine) => void): Promise<void> {
  const id = ctx.containers.resolve(ref);
  const base = ctx.containers.logPath(id);
  const since = opts.since === undefined ? undefined : parseSince(opts.since);
  let lines: LogLine[] = [];
  for (let i = 9; i >= 1; i--) if (existsSync(`${base}.${i}`)) lines = lines.concat(parseLines(readFrom(`${base}.${i}`, 0).text));
  // only whole lines: the monitor may be writing the last one
  let { text, size } = readFrom(base, 0);
  const cut = text.lastIndexOf('\n') + 1;
  size -= Buffer.byteLength(text.slice(cut));
  lines = lines.concat(parseLines(text.slice(0, cut)));
  if (since !== undefined) lines = lines.filter((l) => Date.parse(l.time) >= since);
  if (opts.tail !== undefined && opts.tail >= 0) lines = lines.slice(Math.max(0, lines.length - opts.tail));
  for (const l of lines) emit(l);
  if (opts.follow !== true) return;
  for (;;) {
    let rec;
    try {
      rec = ctx.containers.read(id);
    } catch {
      return;
    }
    const running = deriveState(ctx, rec).status !== 'exited' || monitorAlive(rec);
    const st = existsSync(base) ? statSync(base).size : 0;
    if (st < size) size = 0; // rotated
    const r = readFrom(base, size);
    const c = r.text.lastIndexOf('\n') + 1;
    for (const l of parseLines(r.text.slice(0, c))) emit(l);
    size += Buffer.byteLength(r.text.slice(0, c));
    if (!running) return;
    await new Promise((res) => setTimeout(res, 100));
  }
}
