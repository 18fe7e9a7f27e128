/**
 * v1 `hugetlb` controller (Documentation/admin-guide/cgroup-v1/hugetlb.rst): one
 * hugetlb.<size>.limit_in_bytes per huge page size the kernel supports (`2MB`, `1GB`).
 */

import { checkInt, invalidResource, write, type CgroupStep } from '../cgroup-plan.js';
import type { HugepageLimit } from '../../oci/runtime-spec.js';
import { hugepageSizesFromFiles, parseNumber, type CgroupFileReader, type HugetlbStats } from '../stats.js';

/** The kernel's names: a number and KB/MB/GB (mm/hugetlb_cgroup.c mem_fmt). */
export function checkPageSize(pageSize: string): string {
  if (!/^\d+[KMG]B$/.test(pageSize)) throw invalidResource(`invalid huge page size \`${pageSize}\`: want e.g. \`2MB\``);
  return pageSize;
}

export function planHugetlbV1(limits: readonly HugepageLimit[] | undefined): CgroupStep[] {
  return (limits ?? []).map((l) =>
    write(`hugetlb.${checkPageSize(l.pageSize)}.limit_in_bytes`, checkInt('huge page limit', l.limit, 0)),
  );
}

export function readHugetlbStatsV1(read: CgroupFileReader, files: readonly string[]): Record<string, HugetlbStats> {
  const out: Record<string, HugetlbStats> = {};
  for (const size of hugepageSizesFromFiles(files, 'hugetlb.', '.usage_in_bytes')) {
    const max = read(`hugetlb.${size}.max_usage_in_bytes`);
    out[size] = {
      usageBytes: parseNumber(read(`hugetlb.${size}.usage_in_bytes`)),
      maxUsageBytes: max === undefined ? undefined : parseNumber(max),
    };
  }
  return out;
}
