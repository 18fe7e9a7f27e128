/** Shared by the image verbs: the store at KAPSEL_STORE (default /var/lib/kapsel), and table text. */
import type { ContentStore } from '../../images/store.js';

export async function openImageStore(): Promise<ContentStore> {
  const [{ ContentStore: Store }, { linuxSyscalls }] = await Promise.all([import('../../images/store.js'), import('../../sys/linux-syscalls.js')]);
  return Store.open({ ...(process.env['KAPSEL_STORE'] !== undefined && { root: process.env['KAPSEL_STORE'] }), syscalls: linuxSyscalls() });
}

/** Columns padded to the widest cell, three spaces apart (docker's look). */
export function renderTable(rows: readonly (readonly string[])[]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => `${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join('')}\n`).join('');
}

/** docker's sizes: decimal units, three significant digits (`4.26MB`). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : Number(value.toPrecision(3))}${units[unit]}`;
}

/** `3 days ago`, from an RFC 3339 time; empty when unknown. */
export function ago(created: string, now = Date.now()): string {
  const t = Date.parse(created);
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  const steps: Array<[number, string]> = [[365 * 86400, 'year'], [30 * 86400, 'month'], [7 * 86400, 'week'], [86400, 'day'], [3600, 'hour'], [60, 'minute']];
  for (const [size, name] of steps) {
    const n = Math.floor(s / size);
    if (n >= 1) return `${n} ${name}${n > 1 ? 's' : ''} ago`;
  }
  return 'less than a minute ago';
}
