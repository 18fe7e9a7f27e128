/**
 * What `CgroupManager.stats()` reports, and pure parsers for the kernel's cgroup file formats
 * (Documentation/admin-guide/cgroup-v2.rst "Interface Files": flat keyed, nested keyed).
 *
 * A section is absent when its controller is not available. `null` limits mean unlimited
 * (`max`, or v1's PAGE_COUNTER_MAX). Counters are JS numbers: exact up to 2^53.
 */

export interface CpuStats {
  readonly usageTotalNs: number;
  readonly usageUserNs: number;
  readonly usageSystemNs: number;
  readonly throttling: {
    readonly periods: number;
    readonly throttledPeriods: number;
    readonly throttledTimeNs: number;
  };
}

export interface MemoryStats {
  readonly usageBytes: number;
  /** v1 max_usage_in_bytes, v2 memory.peak (5.19+); undefined when the kernel lacks it. */
  readonly maxUsageBytes: number | undefined;
  readonly limitBytes: number | null;
  /** Page cache: v1 memory.stat `cache`, v2 memory.stat `file`. */
  readonly cacheBytes: number;
  /** Swap in use; undefined without swap accounting. */
  readonly swapUsageBytes: number | undefined;
  /** Processes killed by the OOM killer in this cgroup. */
  readonly oomKills: number;
}

export interface PidsStats {
  readonly current: number;
  readonly limit: number | null;
}

export interface BlockIODeviceStats {
  readonly major: number;
  readonly minor: number;
  readonly readBytes: number;
  readonly writeBytes: number;
  readonly readOps: number;
  readonly writeOps: number;
}

export interface HugetlbStats {
  readonly usageBytes: number;
  readonly maxUsageBytes: number | undefined;
}

export interface CgroupStats {
  readonly cpu?: CpuStats;
  readonly memory?: MemoryStats;
  readonly pids?: PidsStats;
  readonly blockIO?: { readonly devices: readonly BlockIODeviceStats[] };
  /** Keyed by page size as the kernel names it: `2MB`, `1GB`. */
  readonly hugetlb?: Readonly<Record<string, HugetlbStats>>;
}

/** Reads one file of a cgroup directory; undefined when the file does not exist. */
export type CgroupFileReader = (file: string) => string | undefined;

/** v1 reports "no limit" as PAGE_COUNTER_MAX pages (0x7ffffffffffff000 on 4k pages). */
const V1_UNLIMITED_THRESHOLD = 2 ** 62;

/** Parses one integer value; `max` and v1's huge sentinel become null. */
export function parseLimit(text: string | undefined): number | null {
  if (text === undefined) return null;
  const value = text.trim();
  if (value === 'max' || value === '' || value === '-1') return null;
  const n = Number(value);
  if (!Number.isFinite(n) || n >= V1_UNLIMITED_THRESHOLD) return null;
  return n;
}

/** Parses a single-number file (`memory.current`); 0 when absent or empty. */
export function parseNumber(text: string | undefined): number {
  if (text === undefined) return 0;
  const n = Number(text.trim());
  return Number.isFinite(n) ? n : 0;
}

/** "Flat keyed" files: one `key value` per line (memory.stat, cpu.stat, memory.events). */
export function parseFlatKeyed(text: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  if (text === undefined) return out;
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key === undefined || key === '' || value === undefined) continue;
    const n = Number(value);
    if (Number.isFinite(n)) out.set(key, n);
  }
  return out;
}

/** "Nested keyed" files: `8:0 rbytes=1 wbytes=2` (v2 io.stat). */
export function parseNestedKeyed(text: string | undefined): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  if (text === undefined) return out;
  for (const line of text.split('\n')) {
    const [first, ...rest] = line.trim().split(/\s+/);
    if (first === undefined || first === '') continue;
    const entry = new Map<string, number>();
    for (const pair of rest) {
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const n = Number(pair.slice(eq + 1));
      if (Number.isFinite(n)) entry.set(pair.slice(0, eq), n);
    }
    out.set(first, entry);
  }
  return out;
}

/** `8:16` → [8, 16]; undefined when malformed. */
export function parseDeviceNumber(text: string): [number, number] | undefined {
  const m = /^(\d+):(\d+)$/.exec(text);
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2])];
}

/** Lists `<prefix><size><suffix>` file names and returns the sizes (`hugetlb.2MB.max` → 2MB). */
export function hugepageSizesFromFiles(files: readonly string[], prefix: string, suffix: string): string[] {
  const sizes: string[] = [];
  for (const name of files) {
    if (!name.startsWith(prefix) || !name.endsWith(suffix)) continue;
    const size = name.slice(prefix.length, name.length - suffix.length);
    if (/^\d+[KMGT]B$/.test(size)) sizes.push(size);
  }
  return sizes.sort();
}
