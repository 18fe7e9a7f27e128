/**
 * How `kapsel pull` shows progress on stderr: on a terminal, one line per blob redrawn in place
 * (at most every 100 ms); otherwise plain lines when a blob starts, is found, or is done.
 */
import type { PullProgress } from '../../images/registry-pull.js';

const REDRAW_MS = 100;
const BAR_WIDTH = 30;

export interface ProgressRenderer {
  (event: PullProgress): void;
  /** Draws the final state. */
  finish(): void;
}

export function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}

export function progressRenderer(out: NodeJS.WriteStream): ProgressRenderer {
  return out.isTTY === true ? ttyRenderer(out) : lineRenderer(out);
}

function lineRenderer(out: NodeJS.WritableStream): ProgressRenderer {
  const render = ((e: PullProgress): void => {
    if (e.kind === 'resolved') {
      out.write(`${e.name}: resolved to ${e.digest}${e.platform !== undefined ? ` (${e.platform} manifest ${e.manifestDigest})` : ''}\n`);
    } else if (e.state === 'exists') {
      out.write(`${shortDigest(e.digest)}: already exists\n`);
    } else if (e.state === 'downloading' && e.bytes === 0) {
      out.write(`${shortDigest(e.digest)}: downloading ${formatBytes(e.size)}\n`);
    } else if (e.state === 'done') {
      out.write(`${shortDigest(e.digest)}: done\n`);
    }
  }) as ProgressRenderer;
  render.finish = () => undefined;
  return render;
}

function ttyRenderer(out: NodeJS.WriteStream): ProgressRenderer {
  const rows = new Map<string, Extract<PullProgress, { kind: 'blob' }>>();
  let drawn = 0;
  let last = 0;
  const line = (e: Extract<PullProgress, { kind: 'blob' }>): string => {
    const id = shortDigest(e.digest);
    if (e.state === 'exists') return `${id}: already exists`;
    if (e.state === 'waiting') return `${id}: waiting`;
    if (e.state === 'done') return `${id}: done ${formatBytes(e.size)}`;
    const fraction = e.size > 0 ? Math.min(1, e.bytes / e.size) : 1;
    const filled = Math.round(fraction * BAR_WIDTH);
    return `${id}: [${'='.repeat(filled)}${filled < BAR_WIDTH ? '>' : ''}${' '.repeat(Math.max(0, BAR_WIDTH - filled - 1))}] ${formatBytes(e.bytes)}/${formatBytes(e.size)}`;
  };
  const draw = (): void => {
    let text = drawn > 0 ? `\x1b[${drawn}A` : '';
    for (const e of rows.values()) text += `\r\x1b[2K${line(e)}\n`;
    out.write(text);
    drawn = rows.size;
    last = Date.now();
  };
  const render = ((e: PullProgress): void => {
    if (e.kind === 'resolved') {
      if (drawn > 0) draw();
      out.write(`${e.name}: resolved to ${e.digest}${e.platform !== undefined ? ` (${e.platform})` : ''}\n`);
      drawn = 0;
      return;
    }
    rows.set(e.digest, e);
    if (e.state !== 'downloading' || Date.now() - last >= REDRAW_MS) draw();
  }) as ProgressRenderer;
  render.finish = () => {
    if (rows.size > 0) draw();
  };
  return render;
}
