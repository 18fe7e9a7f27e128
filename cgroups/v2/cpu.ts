/**
 * v2 `cpu` controller (Documentation/admin-guide/cgroup-v2.rst "CPU"): cpu.weight, cpu.max
 * (`$QUOTA $PERIOD`, `max` for no quota), cpu.max.burst, cpu.idle. No RT bandwidth in v2.
 */

import { checkInt, invalidResource, write, writePair, type CgroupStep } from '../cgroup-plan.js';
import type { CpuResources } from '../../oci/runtime-spec.js';
import { parseFlatKeyed, type CgroupFileReader, type CpuStats } from '../stats.js';
import { cpuSharesToWeight } from './convert.js';

/** cpu.max as runc writes it: quota or `max`, then the period when one is given. */
export function cpuMaxValue(quota: number | undefined, period: number | undefined): string | undefined {
  const q = quota ?? 0;
  const p = period ?? 0;
  if (q === 0 && p === 0) return undefined;
  let value = q > 0 ? String(checkInt('cpu quota', q, 1000)) : 'max';
  if (p !== 0) value += ` ${checkInt('cpu period', p, 1000, 1_000_000)}`;
  return value;
}

export function planCpuV2(cpu: CpuResources | undefined): CgroupStep[] {
  if (cpu === undefined) return [];
  if ((cpu.realtimeRuntime ?? 0) !== 0 || (cpu.realtimePeriod ?? 0) !== 0) {
    throw invalidResource('invalid cpu realtime settings: cgroup v2 has no RT bandwidth control', 'remove linux.resources.cpu.realtimeRuntime/realtimePeriod');
  }
  const steps: CgroupStep[] = [];
  if (cpu.shares !== undefined && cpu.shares !== 0) {
    steps.push(write('cpu.weight', cpuSharesToWeight(checkInt('cpu shares', cpu.shares, 1))));
  }
  const max = cpuMaxValue(cpu.quota, cpu.period);
  if (cpu.burst !== undefined) {
    const burst = write('cpu.max.burst', checkInt('cpu burst', cpu.burst, 0));
    // The kernel keeps burst <= quota: raising both needs cpu.max first, lowering both burst first.
    steps.push(max === undefined ? burst : writePair(burst, write('cpu.max', max)));
  } else if (max !== undefined) {
    steps.push(write('cpu.max', max));
  }
  if (cpu.idle !== undefined) steps.push(write('cpu.idle', checkInt('cpu idle', cpu.idle, 0, 1)));
  return steps;
}

/** cpu.stat is a core file (present without the cpu controller); times are microseconds. */
export function readCpuStatsV2(read: CgroupFileReader): CpuStats {
  const stat = parseFlatKeyed(read('cpu.stat'));
  const ns = (key: string): number => (stat.get(key) ?? 0) * 1000;
  return {
    usageTotalNs: ns('usage_usec'),
    usageUserNs: ns('user_usec'),
    usageSystemNs: ns('system_usec'),
    throttling: {
      periods: stat.get('nr_periods') ?? 0,
      throttledPeriods: stat.get('nr_throttled') ?? 0,
      throttledTimeNs: ns('throttled_usec'),
    },
  };
}
