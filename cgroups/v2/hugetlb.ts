/**
 * v2 `hugetlb` controller (Documentation/admin-guide/cgroup-v2.rst "HugeTLB"):
 * hugetlb.<size>.max limits, hugetlb.<size>.current usage.
 */

import { checkInt, write, type CgroupStep } from '../cgroup-plan.js';
import type { HugepageLimit } from '../../oci/runtime-spec.js';
import { hugepageSizesFromFiles, parseNumber, type CgroupFileReader, type HugetlbStats } from '../stats.js';
import { checkPageSize } from '../v1/hugetlb.js';

export function planHugetlbV2(limits: readonly HugepageLimit[] | undefined): CgroupStep[] {
  return (limits ?? []).map((l) => write(`hugetlb.${checkPageSize(l.pageSize)}.max`, checkInt('huge page limit', l.limit, 0)));
}

export function readHugetlbStatsV2(read: CgroupFileReader, files: readonly string[]): Record<string, HugetlbStats> {
  const out: Record<string, HugetlbStats> = {};
  for (const size of hugepageSizesFromFiles(files, 'hugetlb.', '.current')) {
    out[size] = { usageBytes: parseNumber(read(`hugetlb.${size}.current`)), maxUsageBytes: undefined };
  }
  return out;
}
