/**
 * `kapsel stats`, `top` and `update` over the runtime's cgroup verbs: usage sampled from the
 * container's cgroup (CPU % from two samples of the usage counter), processes listed by ps(1)
 * filtered to the cgroup's pids, limits changed live and kept in the record for inspect.
 */
import { KapselError } from '../common/errors.js';
import { containerStats } from '../runtime/events.js';
import { containerPids, psTable } from '../runtime/ps.js';
import { resourcesFromFlags, updateContainer, type UpdateFlags } from '../runtime/update.js';
import type { EngineContext } from './context.js';
import type { ContainerRecord, HostConfig } from './container-store.js';
import { deriveState } from './status.js';
import { cpuQuotaOf, parseCpus } from './run-config.js';

export interface StatsRow {
  readonly Id: string;
  readonly Name: string;
  readonly CPUPerc: number;
  readonly MemUsageBytes: number;
  readonly MemLimitBytes: number | null;
  readonly MemPerc: number | null;
  readonly Pids: number;
  readonly PidsLimit: number | null;
}

function running(ctx: EngineContext, ref: string): ContainerRecord {
  const rec = ctx.containers.read(ctx.containers.resolve(ref));
  if (deriveState(ctx, rec).status !== 'running') throw new KapselError('ERR_STATE', `container ${rec.name} is not running`);
  return rec;
}

/** One sample per container, CPU % over `intervalMs` (100 % = one CPU busy). */
export async function sampleStats(ctx: EngineContext, refs: readonly string[], intervalMs = 500): Promise<StatsRow[]> {
  const recs = refs.length > 0
    ? refs.map((r) => running(ctx, r))
    : ctx.containers.ids().map((id) => ctx.containers.read(id)).filter((r) => deriveState(ctx, r).status === 'running');
  const before = recs.map((r) => containerStats(ctx.runtime, r.id).cpu?.usageTotalNs ?? 0);
  const t0 = process.hrtime.bigint();
  await new Promise((res) => setTimeout(res, intervalMs));
  const elapsedNs = Number(process.hrtime.bigint() - t0);
  return recs.map((r, i) => {
    const s = containerStats(ctx.runtime, r.id);
    const mem = s.memory?.usageBytes ?? 0;
    const limit = s.memory?.limitBytes ?? null;
    return {
      Id: r.id,
      Name: r.name,
      CPUPerc: Math.max(0, ((s.cpu?.usageTotalNs ?? 0) - before[i]!) / elapsedNs) * 100,
      MemUsageBytes: mem,
      MemLimitBytes: limit,
      MemPerc: limit === null || limit === 0 ? null : (mem / limit) * 100,
      Pids: s.pids?.current ?? 0,
      PidsLimit: s.pids?.limit ?? null,
    };
  });
}

/** `kapsel top CTR [ps options]`: ps(1)'s table for the container's processes. */
export function topContainer(ctx: EngineContext, ref: string, psArgs: readonly string[]): string {
  const rec = running(ctx, ref);
  return psTable(containerPids(ctx.runtime, rec.id), psArgs.length > 0 ? psArgs : ['-ef']);
}

export interface UpdateRequest {
  readonly memory?: string | undefined;
  readonly memorySwap?: string | undefined;
  readonly cpus?: string | undefined;
  readonly cpuShares?: string | undefined;
  readonly cpusetCpus?: string | undefined;
  readonly pidsLimit?: string | undefined;
}

/** `kapsel update`: new limits on the running container's cgroup, and in its record. */
export async function updateLimits(ctx: EngineContext, ref: string, u: UpdateRequest): Promise<string> {
  const rec = running(ctx, ref);
  const nanoCpus = u.cpus === undefined ? undefined : parseCpus(u.cpus);
  const cfs = nanoCpus === undefined ? undefined : cpuQuotaOf(nanoCpus);
  const flags: UpdateFlags = {
    memory: u.memory,
    memorySwap: u.memorySwap ?? (u.memory !== undefined && rec.hostConfig.memorySwap === 0 ? String(2 * Number(resourcesFromFlags({ memory: u.memory }).memory?.limit ?? 0)) : undefined),
    cpuShares: u.cpuShares,
    cpusetCpus: u.cpusetCpus,
    pidsLimit: u.pidsLimit,
    ...(cfs !== undefined && { cpuQuota: String(cfs.quota), cpuPeriod: String(cfs.period) }),
  };
  const resources = resourcesFromFlags(flags);
  await updateContainer(ctx.sys, ctx.runtime, rec.id, resources, ctx.log);
  await ctx.containers.withLock(rec.id, async () => {
    const r = ctx.containers.read(rec.id);
    const hc: HostConfig = {
      ...r.hostConfig,
      ...(resources.memory?.limit !== undefined && { memory: resources.memory.limit }),
      ...(u.memorySwap !== undefined && resources.memory?.swap !== undefined && { memorySwap: resources.memory.swap }),
      ...(nanoCpus !== undefined && { nanoCpus }),
      ...(resources.cpu?.shares !== undefined && { cpuShares: resources.cpu.shares }),
      ...(resources.cpu?.cpus !== undefined && { cpusetCpus: resources.cpu.cpus }),
      ...(resources.pids?.limit !== undefined && { pidsLimit: resources.pids.limit }),
    };
    ctx.containers.write({ ...r, hostConfig: hc });
  });
  return rec.id;
}
