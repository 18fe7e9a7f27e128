/**
 * `events` (runc's verb): a container's resource statistics every interval, and an `oom` event
 * each time the kernel's OOM killer takes a process from its cgroup.
 *
 * OOM kills are read from the cgroup's counter (v1 memory.oom_control `oom_kill`, 4.13+; v2
 * memory.events `oom_kill`), polled every `oomPollMs`, one event per kill. runc waits on the v1
 * eventfd notification (cgroup.event_control) or inotify on memory.events instead; polling the
 * counter reports kills, not OOM situations the kernel resolved by reclaim, and needs no fd or
 * extra thread. A kill is reported as long as the cgroup exists when the next poll runs: `delete`
 * (or `run` without --keep) removing the cgroup within one poll of the kill can hide it.
 *
 * The stream ends when the container's init is gone (after a last OOM check), as runc's does when
 * the cgroup goes away. `containerEvents` is the library API (typed CgroupStats); `runcEvent`
 * renders an event in runc's JSON (types/events.go), which `runc events` clients decode.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { KapselError } from '../common/errors.js';
import type { CgroupManager } from '../cgroups/manager.js';
import type { BlockIODeviceStats, CgroupStats } from '../cgroups/stats.js';
import type { StateStore } from './state-store.js';
import { containerStatus } from './status.js';
import { isAlive } from './process-info.js';
import { containerCgroupManager } from './container-manager.js';

export type ContainerEvent =
  | { readonly type: 'stats'; readonly id: string; readonly stats: CgroupStats }
  | { readonly type: 'oom'; readonly id: string };

export interface EventsOptions {
  /** Time between stats events; runc's default is 5 s. */
  readonly intervalMs?: number | undefined;
  /** One stats event, then the stream ends (`events --stats`). */
  readonly statsOnly?: boolean | undefined;
  /** How often the OOM kill counter is read. */
  readonly oomPollMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

export const DEFAULT_INTERVAL_MS = 5000;
const DEFAULT_OOM_POLL_MS = 100;

const DURATION_UNITS_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration (`5s`, `250ms`, `1m30s`), as runc's --interval takes; a bare number is seconds. */
export function parseIntervalMs(text: string): number {
  const t = text.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(t)) {
    ms = Number(t) * 1000;
  } else {
    const parts = [...t.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
    if (parts.length === 0 || parts.map((p) => p[0]).join('') !== t) {
      throw new KapselError('ERR_USAGE', `invalid duration \`${text}\`: want e.g. 5s, 500ms, 1m`);
    }
    ms = parts.reduce((sum, p) => sum + Number(p[1]) * DURATION_UNITS_MS[p[2]!]!, 0);
  }
  if (!(ms > 0)) throw new KapselError('ERR_USAGE', 'duration interval must be greater than 0');
  return ms;
}

function oomKills(manager: CgroupManager): number {
  try {
    return manager.oomKillCount();
  } catch {
    return 0; // the cgroup is being removed
  }
}

/** Sleeps `ms`; false when aborted. */
async function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  try {
    await delay(ms, undefined, signal === undefined ? {} : { signal });
    return true;
  } catch {
    return false;
  }
}

/** The container's resource statistics now (what `events --stats` prints). */
export function containerStats(store: StateStore, id: string): CgroupStats {
  const record = store.read(id);
  const status = containerStatus(store, record);
  if (status === 'stopped' || status === 'creating') throw new KapselError('ERR_STATE', `container with id ${id} is not running`);
  return containerCgroupManager(record).stats();
}

/**
 * The container's events: stats every interval and `oom` per kill, until its init exits or
 * `signal` aborts. Throws runc's "container with id X is not running" for a stopped container.
 */
export async function* containerEvents(store: StateStore, id: string, opts: EventsOptions = {}): AsyncGenerator<ContainerEvent> {
  const record = store.read(id);
  const status = containerStatus(store, record);
  if (status === 'stopped' || status === 'creating') throw new KapselError('ERR_STATE', `container with id ${id} is not running`);
  const manager = containerCgroupManager(record);
  if (opts.statsOnly === true) {
    yield { type: 'stats', id, stats: manager.stats() };
    return;
  }
  const intervalMs = opts.intervalMs ?? DEFAULT_INTERVAL_MS;
  const pollMs = Math.min(opts.oomPollMs ?? DEFAULT_OOM_POLL_MS, intervalMs);
  let seen = oomKills(manager);
  let nextStats = Date.now() + intervalMs;
  for (;;) {
    if (!(await sleep(Math.max(0, Math.min(pollMs, nextStats - Date.now())), opts.signal))) return;
    const kills = oomKills(manager);
    for (; seen < kills; seen++) yield { type: 'oom', id };
    if (kills < seen) seen = kills;
    if (!isAlive(record.pid, record.pidStartTime)) return;
    if (Date.now() >= nextStats) {
      nextStats += intervalMs * Math.max(1, Math.ceil((Date.now() - nextStats) / intervalMs));
      let stats: CgroupStats;
      try {
        stats = manager.stats();
      } catch {
        continue; // runc logs and waits for the next tick
      }
      yield { type: 'stats', id, stats };
    }
  }
}

/** What runc prints for an unlimited memory limit (math.MaxUint64, its v2 `max`). */
const UNLIMITED = 18446744073709551615n;

/** `data` of a runc stats event (runc types/events.go Stats); counters the library lacks are 0. */
export function runcStats(s: CgroupStats): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  if (s.cpu !== undefined) {
    data['cpu'] = {
      usage: { total: s.cpu.usageTotalNs, kernel: s.cpu.usageSystemNs, user: s.cpu.usageUserNs },
      throttling: { periods: s.cpu.throttling.periods, throttledPeriods: s.cpu.throttling.throttledPeriods, throttledTime: s.cpu.throttling.throttledTimeNs },
    };
  }
  if (s.memory !== undefined) {
    const m = s.memory;
    data['memory'] = {
      cache: m.cacheBytes,
      usage: { limit: m.limitBytes ?? UNLIMITED, usage: m.usageBytes, max: m.maxUsageBytes ?? 0, failcnt: 0 },
      // runc reports memory+swap here on both drivers (the v1 memsw meaning)
      ...(m.swapUsageBytes !== undefined ? { swap: { usage: m.usageBytes + m.swapUsageBytes, failcnt: 0 } } : {}),
    };
  }
  if (s.pids !== undefined) data['pids'] = { current: s.pids.current, limit: s.pids.limit ?? 0 };
  if (s.blockIO !== undefined) {
    const devices = s.blockIO.devices;
    const entries = (pick: (d: BlockIODeviceStats) => [number, number]) =>
      devices.flatMap((d) => {
        const [read, write] = pick(d);
        return [
          { major: d.major, minor: d.minor, op: 'Read', value: read },
          { major: d.major, minor: d.minor, op: 'Write', value: write },
          { major: d.major, minor: d.minor, op: 'Total', value: read + write },
        ];
      });
    data['blkio'] = {
      ioServiceBytesRecursive: entries((d) => [d.readBytes, d.writeBytes]),
      ioServicedRecursive: entries((d) => [d.readOps, d.writeOps]),
    };
  }
  data['hugetlb'] = Object.fromEntries(Object.entries(s.hugetlb ?? {}).map(([size, h]) => [size, { usage: h.usageBytes, max: h.maxUsageBytes ?? 0, failcnt: 0 }]));
  return data;
}

/** runc's event object: {"type","id","data"} (no data for `oom`). */
export function runcEvent(ev: ContainerEvent): Record<string, unknown> {
  return ev.type === 'oom' ? { type: 'oom', id: ev.id } : { type: 'stats', id: ev.id, data: runcStats(ev.stats) };
}

/** One JSON line; bigints (uint64 values past 2^53) are written as exact integers. */
export function encodeEvent(ev: ContainerEvent): string {
  const text = JSON.stringify(runcEvent(ev), (_key, value: unknown) => (typeof value === 'bigint' ? `\u0000big:${value}` : value));
  return `${text.replace(/"\\u0000big:(\d+)"/g, '$1')}\n`;
}
