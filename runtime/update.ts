/**
 * `update` (runc's verb): change the resource limits of a created, running or paused container,
 * live. The input is runc's: a LinuxResources JSON document (`--resources FILE|-`; then every
 * flag is ignored) or flags. A value of 0 (or "") means "leave as it is", as in runc; -1 means
 * unlimited where the kernel has a limit. What update may change is what runc's update changes:
 * memory (limit, reservation, swap, checkBeforeUpdate), cpu (shares, quota, period, burst,
 * realtime, cpus, mems, idle), blockIO weight, pids limit and v2 `unified` keys; device rules,
 * hugepage limits, per-device I/O and network classes stay as created (runc ignores them too).
 *
 * Units: bytes for memory (flags take 64m, 1g, 512k: binary multiples, docker's RAMInBytes),
 * microseconds for cpu quota/period/burst/realtime, v1 shares (2..262144; converted to
 * cpu.weight on v2) and blkio weight (10..1000; io.weight on v2).
 */
import { readFileSync } from 'node:fs';
import { KapselError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { CpuResources, MemoryResources, Resources } from '../oci/runtime-spec.js';
import type { Syscalls } from '../sys/syscalls.js';
import type { StateStore } from './state-store.js';
import { containerStatus } from './status.js';
import { containerCgroupManager, withContainerLockAsync } from './container-manager.js';

/** runc update's flags, as the user typed them (strings, so `64m` and `-1` survive). */
export interface UpdateFlags {
  readonly memory?: string | undefined;
  readonly memorySwap?: string | undefined;
  readonly memoryReservation?: string | undefined;
  readonly kernelMemory?: string | undefined;
  readonly kernelMemoryTcp?: string | undefined;
  readonly cpuShares?: string | undefined;
  readonly cpuQuota?: string | undefined;
  readonly cpuPeriod?: string | undefined;
  readonly cpuBurst?: string | undefined;
  readonly cpuRtPeriod?: string | undefined;
  readonly cpuRtRuntime?: string | undefined;
  readonly cpuIdle?: string | undefined;
  readonly cpusetCpus?: string | undefined;
  readonly cpusetMems?: string | undefined;
  readonly pidsLimit?: string | undefined;
  readonly blkioWeight?: string | undefined;
}

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

function usage(message: string): KapselError {
  return new KapselError('ERR_USAGE', message);
}

/**
 * Bytes from `64m`, `1.5g`, `512KiB`, `1024`, or -1 (docker/go-units RAMInBytes: binary
 * multiples, case-insensitive, optional `i` and `b`).
 */
export function parseMemoryBytes(flag: string, text: string): number {
  if (text.trim() === '-1') return -1;
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$/i.exec(text.trim());
  if (!m) throw usage(`invalid value for ${flag}: \`${text}\` (want bytes, or a size like 64m or 1g)`);
  return Math.floor(Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]!);
}

function parseInteger(flag: string, text: string, min: number): number {
  const n = Number(text.trim());
  if (text.trim() === '' || !Number.isInteger(n) || n < min) throw usage(`invalid value for ${flag}: \`${text}\` (want an integer ≥ ${min})`);
  return n;
}

/** Drops `undefined` values so the result fits exactOptionalPropertyTypes and prints cleanly. */
function defined<T extends object>(obj: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/** The resources runc's update flags ask for; flags not given (or 0) leave the value alone. */
export function resourcesFromFlags(f: UpdateFlags, warn: (m: string) => void = () => {}): Resources {
  const mem = (flag: string, v: string | undefined): number | undefined => (v === undefined || v === '' ? undefined : parseMemoryBytes(flag, v));
  const int = (flag: string, v: string | undefined, min: number): number | undefined => (v === undefined || v === '' ? undefined : parseInteger(flag, v, min));
  if (f.kernelMemory !== undefined || f.kernelMemoryTcp !== undefined) warn('kernel memory settings are ignored and will be removed');
  const memory: MemoryResources = defined({
    limit: mem('--memory', f.memory),
    swap: mem('--memory-swap', f.memorySwap),
    reservation: mem('--memory-reservation', f.memoryReservation),
  });
  const cpu: CpuResources = defined({
    shares: int('--cpu-shares', f.cpuShares, 0),
    quota: int('--cpu-quota', f.cpuQuota, -1),
    period: int('--cpu-period', f.cpuPeriod, 0),
    burst: int('--cpu-burst', f.cpuBurst, 0),
    realtimePeriod: int('--cpu-rt-period', f.cpuRtPeriod, 0),
    realtimeRuntime: int('--cpu-rt-runtime', f.cpuRtRuntime, -1),
    idle: int('--cpu-idle', f.cpuIdle, 0),
    cpus: f.cpusetCpus === '' ? undefined : f.cpusetCpus,
    mems: f.cpusetMems === '' ? undefined : f.cpusetMems,
  });
  const pidsLimit = int('--pids-limit', f.pidsLimit, -1);
  const weight = int('--blkio-weight', f.blkioWeight, 0);
  return normaliseUpdate(defined({
    memory: Object.keys(memory).length > 0 ? memory : undefined,
    cpu: Object.keys(cpu).length > 0 ? cpu : undefined,
    pids: pidsLimit === undefined ? undefined : { limit: pidsLimit },
    blockIO: weight === undefined ? undefined : { weight },
  }));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `--resources` input: runc's LinuxResources JSON (oci `Resources`); unknown keys are ignored, as runc's decoder does. */
export function resourcesFromJson(text: string, warn: (m: string) => void = () => {}): Resources {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw usage(`decode resources: ${(err as Error).message}`);
  }
  if (!isObject(doc)) throw usage('decode resources: want a JSON object like {"memory": {"limit": 67108864}}');
  const num = (section: Record<string, unknown>, key: string): number | undefined => {
    const v = section[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw usage(`decode resources: \`${key}\` must be a number`);
    return v;
  };
  const str = (section: Record<string, unknown>, key: string): string | undefined => {
    const v = section[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw usage(`decode resources: \`${key}\` must be a string`);
    return v;
  };
  const m = isObject(doc['memory']) ? doc['memory'] : {};
  const c = isObject(doc['cpu']) ? doc['cpu'] : {};
  const b = isObject(doc['blockIO']) ? doc['blockIO'] : {};
  const p = isObject(doc['pids']) ? doc['pids'] : {};
  if (num(m, 'kernel') !== undefined || num(m, 'kernelTCP') !== undefined) warn('kernel memory settings are ignored and will be removed');
  const check = m['checkBeforeUpdate'];
  const memory: MemoryResources = defined({
    limit: num(m, 'limit'),
    reservation: num(m, 'reservation'),
    swap: num(m, 'swap'),
    checkBeforeUpdate: typeof check === 'boolean' ? check : undefined,
  });
  const cpu: CpuResources = defined({
    shares: num(c, 'shares'),
    quota: num(c, 'quota'),
    period: num(c, 'period'),
    burst: num(c, 'burst'),
    realtimeRuntime: num(c, 'realtimeRuntime'),
    realtimePeriod: num(c, 'realtimePeriod'),
    cpus: str(c, 'cpus'),
    mems: str(c, 'mems'),
    idle: num(c, 'idle'),
  });
  const unified = doc['unified'];
  if (unified !== undefined && unified !== null && (!isObject(unified) || Object.values(unified).some((v) => typeof v !== 'string'))) {
    throw usage('decode resources: `unified` must map file names to strings');
  }
  const weight = num(b, 'weight');
  const pidsLimit = num(p, 'limit');
  return normaliseUpdate(defined({
    memory: Object.keys(memory).length > 0 ? memory : undefined,
    cpu: Object.keys(cpu).length > 0 ? cpu : undefined,
    blockIO: weight === undefined ? undefined : { weight },
    pids: pidsLimit === undefined ? undefined : { limit: pidsLimit },
    unified: isObject(unified) ? (unified as Record<string, string>) : undefined,
  }));
}

/**
 * runc's "0 leaves it alone" for the fields where the cgroups library reads 0 as a value:
 * pids limit 0 (the library writes `max`), cpus/mems "" (ignored anyway).
 */
function normaliseUpdate(r: Resources): Resources {
  const pids = r.pids?.limit === 0 ? undefined : r.pids;
  const out: Resources = defined({ ...r, pids });
  return out;
}

/** Reads `--resources`: a file, or `-` for standard input. */
export function readResourcesInput(source: string): string {
  try {
    return readFileSync(source === '-' ? 0 : source, 'utf8');
  } catch (err) {
    throw new KapselError('ERR_USAGE', `read resources from \`${source}\`: ${(err as Error).message}`, { cause: err });
  }
}

/** Applies `resources` to the container's cgroup, live. */
export function updateContainer(sys: Syscalls, store: StateStore, id: string, resources: Resources, log?: Logger): Promise<void> {
  return withContainerLockAsync(sys, store, id, async () => {
    const record = store.read(id);
    const status = containerStatus(store, record);
    if (status === 'stopped' || status === 'creating') throw new KapselError('ERR_STATE', 'container not running');
    containerCgroupManager(record, { debug: (m) => log?.debug(m) }).update(resources);
  });
}
