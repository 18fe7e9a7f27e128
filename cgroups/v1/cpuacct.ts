/**
 * v1 `cpuacct` controller: CPU usage accounting (Documentation/admin-guide/cgroup-v1/cpuacct.rst).
 * Nothing to configure; read for stats. May be its own hierarchy or joined with cpu.
 */

import { parseFlatKeyed, parseNumber, type CgroupFileReader } from '../stats.js';

/** cpuacct.stat counts USER_HZ ticks; USER_HZ is 100 on every Linux ABI (times(2)). */
const NS_PER_USER_HZ_TICK = 10_000_000;

export interface CpuUsageNs {
  readonly usageTotalNs: number;
  readonly usageUserNs: number;
  readonly usageSystemNs: number;
}

/** Prefers the nanosecond files (usage_user/usage_sys, 4.7+) over tick-based cpuacct.stat. */
export function readCpuUsageV1(read: CgroupFileReader): CpuUsageNs {
  const usageTotalNs = parseNumber(read('cpuacct.usage'));
  const user = read('cpuacct.usage_user');
  const sys = read('cpuacct.usage_sys');
  if (user !== undefined && sys !== undefined) {
    return { usageTotalNs, usageUserNs: parseNumber(user), usageSystemNs: parseNumber(sys) };
  }
  const stat = parseFlatKeyed(read('cpuacct.stat'));
  return {
    usageTotalNs,
    usageUserNs: (stat.get('user') ?? 0) * NS_PER_USER_HZ_TICK,
    usageSystemNs: (stat.get('system') ?? 0) * NS_PER_USER_HZ_TICK,
  };
}
