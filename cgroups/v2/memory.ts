/**
 * v2 `memory` controller (Documentation/admin-guide/cgroup-v2.rst "Memory"): memory.max,
 * memory.low (from `reservation`), memory.swap.max (swap alone: see convert.ts).
 * v2 has no swappiness, no per-cgroup OOM-killer switch and no hierarchy switch: those fields
 * are reported by notes.ts and not written.
 */

import { checkInt, write, type CgroupStep } from '../cgroup-plan.js';
import type { MemoryResources } from '../../oci/runtime-spec.js';
import { parseFlatKeyed, parseLimit, parseNumber, type CgroupFileReader, type MemoryStats } from '../stats.js';
import { memorySwapToV2 } from './convert.js';

function bytesOrMax(name: string, value: number): string {
  return value === -1 ? 'max' : String(checkInt(name, value, 0));
}

export function planMemoryV2(memory: MemoryResources | undefined): CgroupStep[] {
  if (memory === undefined) return [];
  const steps: CgroupStep[] = [];
  const limit = memory.limit ?? 0;
  const swapTotal = memory.swap ?? 0;
  const swap = memorySwapToV2(swapTotal, limit);
  // Swap first, as runc does. 0 from a set swap means "limit == swap": no swap at all.
  // Without swap accounting the file is absent: lifting or disabling swap is then a no-op.
  if (swap === -1) steps.push(write('memory.swap.max', 'max', true));
  else if (swap > 0) steps.push(write('memory.swap.max', swap));
  else if (swapTotal > 0) steps.push(write('memory.swap.max', 0, true));
  if (limit !== 0) steps.push(write('memory.max', bytesOrMax('memory limit', limit)));
  if (memory.reservation !== undefined && memory.reservation !== 0) {
    steps.push(write('memory.low', bytesOrMax('memory reservation', memory.reservation)));
  }
  return steps;
}

/** memory.events `oom_kill`: processes the OOM killer took (hierarchical unless memory_localevents). */
export function readOomKillsV2(read: CgroupFileReader): number {
  return parseFlatKeyed(read('memory.events')).get('oom_kill') ?? 0;
}

export function readMemoryStatsV2(read: CgroupFileReader): MemoryStats {
  const stat = parseFlatKeyed(read('memory.stat'));
  const peak = read('memory.peak');
  const swap = read('memory.swap.current');
  return {
    usageBytes: parseNumber(read('memory.current')),
    maxUsageBytes: peak === undefined ? undefined : parseNumber(peak),
    limitBytes: parseLimit(read('memory.max')),
    cacheBytes: stat.get('file') ?? 0,
    swapUsageBytes: swap === undefined ? undefined : parseNumber(swap),
    oomKills: readOomKillsV2(read),
  };
}

export function readMemoryUsageV2(read: CgroupFileReader): number {
  return parseNumber(read('memory.current'));
}
