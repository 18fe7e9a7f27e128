/**
 * Summary statistics for benchmark samples (milliseconds or kilobytes), and Markdown tables.
 * Percentiles use linear interpolation between closest ranks (the "R-7" method, as numpy's
 * default and hyperfine's), so p50 of an even count is the mean of the two middle samples.
 */

/** @param {readonly number[]} sorted ascending @param {number} q in [0, 1] */
function quantileSorted(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * @param {readonly number[]} samples
 * @returns {{ n: number, median: number, p90: number, min: number, max: number, mean: number }}
 */
export function summarize(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const mean = n === 0 ? Number.NaN : sorted.reduce((a, b) => a + b, 0) / n;
  return {
    n,
    median: quantileSorted(sorted, 0.5),
    p90: quantileSorted(sorted, 0.9),
    min: n === 0 ? Number.NaN : sorted[0],
    max: n === 0 ? Number.NaN : sorted[n - 1],
    mean,
  };
}

/** Fixed decimals; NaN (no samples) prints as an em dash. */
export function fmt(value, decimals = 1) {
  return Number.isFinite(value) ? value.toFixed(decimals) : '—';
}

/** `a / b` as `1.23×`, or an em dash when either side is missing. */
export function ratio(a, b) {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '—';
}

/**
 * @param {readonly string[]} header
 * @param {readonly (readonly string[])[]} rows
 * @param {readonly ('l' | 'r')[]} [align] per column; numbers read best right-aligned
 */
export function markdownTable(header, rows, align = []) {
  const rule = header.map((_, i) => (align[i] === 'r' ? '---:' : '---'));
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(rule), ...rows.map(line)].join('\n');
}
