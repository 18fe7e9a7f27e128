/**
 * v2 `cpuset` controller (Documentation/admin-guide/cgroup-v2.rst "Cpuset"). Unlike v1, an
 * empty cpuset.cpus/mems means "inherit the parent's effective set": no copying down.
 */

import { checkCpuList, write, type CgroupStep } from '../cgroup-plan.js';
import type { CpuResources } from '../../oci/runtime-spec.js';

export function planCpusetV2(cpu: CpuResources | undefined): CgroupStep[] {
  const steps: CgroupStep[] = [];
  if (cpu?.cpus !== undefined && cpu.cpus !== '') steps.push(write('cpuset.cpus', checkCpuList('cpuset cpus', cpu.cpus)));
  if (cpu?.mems !== undefined && cpu.mems !== '') steps.push(write('cpuset.mems', checkCpuList('cpuset mems', cpu.mems)));
  return steps;
}
