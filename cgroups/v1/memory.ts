/**
 * v1 `memory` controller (Documentation/admin-guide/cgroup-v1/memory.rst).
 *
 * runtime-spec's `swap` is the memory+swap total, which is exactly v1's memsw.limit_in_bytes.
 * The kernel keeps limit_in_bytes <= memsw.limit_in_bytes at every instant, so raising both
 * must write memsw first and lowering both must write memory first: the two writes form a
 * pair retried in the other order on EINVAL (runc fs/memory.go setMemoryAndSwap).
 */

import { checkInt, invalidResource, write, writePair, type CgroupStep } from '../cgroup-plan.js';
import type { MemoryResources } from '../../oci/runtime-spec.js';
import { parseFlatKeyed, parseLimit, parseNumber, type CgroupFileReader, type MemoryStats } from '../stats.js';

const LIMIT = 'memory.limit_in_bytes';
const MEMSW = 'memory.memsw.limit_in_bytes';

/** -1 stays -1 (unlimited); other values must be positive byte counts. */
function bytes(name: string, value: number): number {
  if (value === -1) return -1;
  return checkInt(name, value, 1);
}

export function planMemoryV1(memory: MemoryResources | undefined): CgroupStep[] {
  if (memory === undefined) return [];
  const steps: CgroupStep[] = [];
  const limit = memory.limit !== undefined && memory.limit !== 0 ? bytes('memory limit', memory.limit) : undefined;
  let swap = memory.swap !== undefined && memory.swap !== 0 ? bytes('memory+swap limit', memory.swap) : undefined;
  if (limit !== undefined && swap !== undefined && limit > 0 && swap > 0 && swap < limit) {
    throw invalidResource(`invalid memory+swap limit ${swap}: below the memory limit ${limit}`, 'runtime-spec `swap` is memory plus swap');
  }
  // An unlimited memory request with swap unset also lifts the memsw limit, when swap
  // accounting exists (runc: "it means unlimited memory").
  const implicitSwap = limit === -1 && swap === undefined;
  if (implicitSwap) swap = -1;
  if (limit !== undefined && swap !== undefined) {
    steps.push(writePair(write(LIMIT, limit), write(MEMSW, swap, implicitSwap)));
  } else if (limit !== undefined) {
    steps.push(write(LIMIT, limit));
  } else if (swap !== undefined) {
    steps.push(write(MEMSW, swap));
  }
  if (memory.reservation !== undefined && memory.reservation !== 0) {
    steps.push(write('memory.soft_limit_in_bytes', bytes('memory reservation', memory.reservation)));
  }
  if (memory.swappiness !== undefined && memory.swappiness !== -1) {
    steps.push(write('memory.swappiness', checkInt('memory swappiness', memory.swappiness, 0, 100)));
  }
  if (memory.disableOOMKiller === true) steps.push(write('memory.oom_control', 1));
  if (memory.useHierarchy !== undefined) steps.push(write('memory.use_hierarchy', memory.useHierarchy ? 1 : 0, true));
  return steps;
}

/** memory.oom_control's `oom_kill` (4.13+): processes the OOM killer took from this cgroup. */
export function readOomKillsV1(read: CgroupFileReader): number {
  return parseFlatKeyed(read('memory.oom_control')).get('oom_kill') ?? 0;
}

export function readMemoryStatsV1(read: CgroupFileReader): MemoryStats {
  const usageBytes = parseNumber(read('memory.usage_in_bytes'));
  const stat = parseFlatKeyed(read('memory.stat'));
  const memswUsage = read('memory.memsw.usage_in_bytes');
  const maxUsage = read('memory.max_usage_in_bytes');
  return {
    usageBytes,
    maxUsageBytes: maxUsage === undefined ? undefined : parseNumber(maxUsage),
    limitBytes: parseLimit(read(LIMIT)),
    cacheBytes: stat.get('total_cache') ?? stat.get('cache') ?? 0,
    swapUsageBytes: memswUsage === undefined ? undefined : Math.max(0, parseNumber(memswUsage) - usageBytes),
    oomKills: readOomKillsV1(read),
  };
}

/** The current usage, for `checkBeforeUpdate`. */
export function readMemoryUsageV1(read: CgroupFileReader): number {
  return parseNumber(read('memory.usage_in_bytes'));
}
