/**
 * v1 `cpu` controller: CFS shares and bandwidth, RT bandwidth, SCHED_IDLE
 * (Documentation/scheduler/sched-bwc.rst, sched-rt-group.rst; cgroup-v1 has no cpu doc).
 *
 * cfs_quota_us must fit the period: lowering the period with a large quota can fail with
 * EINVAL, so period/quota (and rt_period/rt_runtime) are written as a pair that is retried in
 * the other order, as runc's fs/cpu.go does.
 */

import { checkInt, write, writePair, type CgroupStep } from '../cgroup-plan.js';
import type { CpuResources } from '../../oci/runtime-spec.js';
import { parseFlatKeyed, type CgroupFileReader, type CpuStats } from '../stats.js';

/** kernel/sched/sched.h: MIN_SHARES 2, MAX_SHARES 1 << 18. */
export const CPU_SHARES_MIN = 2;
export const CPU_SHARES_MAX = 262144;

export function planCpuV1(cpu: CpuResources | undefined): CgroupStep[] {
  if (cpu === undefined) return [];
  const steps: CgroupStep[] = [];
  if (cpu.shares !== undefined && cpu.shares !== 0) {
    steps.push(write('cpu.shares', checkInt('cpu shares', cpu.shares, CPU_SHARES_MIN, CPU_SHARES_MAX)));
  }
  const period = cpu.period !== undefined && cpu.period !== 0 ? checkInt('cpu period', cpu.period, 1) : undefined;
  const quota = cpu.quota !== undefined && cpu.quota !== 0 ? quotaValue(cpu.quota) : undefined;
  if (period !== undefined && quota !== undefined) {
    steps.push(writePair(write('cpu.cfs_period_us', period), write('cpu.cfs_quota_us', quota)));
  } else if (period !== undefined) {
    steps.push(write('cpu.cfs_period_us', period));
  } else if (quota !== undefined) {
    steps.push(write('cpu.cfs_quota_us', quota));
  }
  if (cpu.burst !== undefined) steps.push(write('cpu.cfs_burst_us', checkInt('cpu burst', cpu.burst, 0)));
  const rtPeriod = cpu.realtimePeriod !== undefined && cpu.realtimePeriod !== 0 ? cpu.realtimePeriod : undefined;
  const rtRuntime = cpu.realtimeRuntime !== undefined && cpu.realtimeRuntime !== 0 ? cpu.realtimeRuntime : undefined;
  if (rtPeriod !== undefined && rtRuntime !== undefined) {
    steps.push(writePair(write('cpu.rt_period_us', checkInt('cpu realtime period', rtPeriod, 1)), write('cpu.rt_runtime_us', rtValue(rtRuntime))));
  } else if (rtPeriod !== undefined) {
    steps.push(write('cpu.rt_period_us', checkInt('cpu realtime period', rtPeriod, 1)));
  } else if (rtRuntime !== undefined) {
    steps.push(write('cpu.rt_runtime_us', rtValue(rtRuntime)));
  }
  if (cpu.idle !== undefined) steps.push(write('cpu.idle', checkInt('cpu idle', cpu.idle, 0, 1)));
  return steps;
}

/** -1 (or any negative) is "no limit"; the kernel wants at least 1ms. */
function quotaValue(quota: number): number {
  if (quota < 0) return -1;
  return checkInt('cpu quota', quota, 1000);
}

function rtValue(runtime: number): number {
  return runtime < 0 ? -1 : checkInt('cpu realtime runtime', runtime, 0);
}

/** cpu.stat (v1): nr_periods, nr_throttled, throttled_time (ns). */
export function readCpuThrottlingV1(read: CgroupFileReader): CpuStats['throttling'] {
  const stat = parseFlatKeyed(read('cpu.stat'));
  return {
    periods: stat.get('nr_periods') ?? 0,
    throttledPeriods: stat.get('nr_throttled') ?? 0,
    throttledTimeNs: stat.get('throttled_time') ?? 0,
  };
}
