/** Text renderings for `list`. */
import type { RuntimeState } from '../runtime/lifecycle.js';

export function renderList(states: readonly RuntimeState[], format: 'table' | 'json', quiet: boolean): string {
  if (quiet) return states.map((s) => `${s.id}\n`).join('');
  if (format === 'json') return `${JSON.stringify(states)}\n`;
  const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...states.map((s) => [s.id, String(s.pid ?? 0), s.status, s.bundle, s.created, s.owner || 'root'])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => `${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join('')}\n`).join('');
}
