/**
 * v1 `cpuset` controller (Documentation/admin-guide/cgroup-v1/cpusets.rst).
 *
 * A new v1 cpuset cgroup starts with empty cpuset.cpus and cpuset.mems, and no task can join
 * it (ENOSPC) until both are set. So every directory the manager creates copies its parent's
 * values down the path first (runc fs/cpuset.go ensureParent; unless cgroup.clone_children).
 */

import { checkCpuList, write, type CgroupStep } from '../cgroup-plan.js';
import type { CpuResources } from '../../oci/runtime-spec.js';

export function planCpusetV1(cpu: CpuResources | undefined): CgroupStep[] {
  const steps: CgroupStep[] = [];
  if (cpu?.cpus !== undefined && cpu.cpus !== '') steps.push(write('cpuset.cpus', checkCpuList('cpuset cpus', cpu.cpus)));
  if (cpu?.mems !== undefined && cpu.mems !== '') steps.push(write('cpuset.mems', checkCpuList('cpuset mems', cpu.mems)));
  return steps;
}

export interface CpusetValues {
  readonly cpus: string;
  readonly mems: string;
}

/** The writes that make a freshly created child usable: copy each empty value from the parent. */
export function planCpusetInherit(parent: CpusetValues, child: CpusetValues): CgroupStep[] {
  const steps: CgroupStep[] = [];
  if (child.cpus.trim() === '' && parent.cpus.trim() !== '') steps.push(write('cpuset.cpus', parent.cpus.trim()));
  if (child.mems.trim() === '' && parent.mems.trim() !== '') steps.push(write('cpuset.mems', parent.mems.trim()));
  return steps;
}
