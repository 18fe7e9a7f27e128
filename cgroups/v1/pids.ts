/**
 * v1 `pids` controller (Documentation/admin-guide/cgroup-v1/pids.rst). Same files as v2.
 */

import { checkInt, write, type CgroupStep } from '../cgroup-plan.js';
import type { PidsResources } from '../../oci/runtime-spec.js';
import { parseLimit, parseNumber, type CgroupFileReader, type PidsStats } from '../stats.js';

/** pids.max: a positive count, or `max` for 0 and -1 (runc: "PidsLimit <= 0 is unlimited"). */
export function pidsMaxValue(limit: number): string {
  if (limit <= 0) return 'max';
  return String(checkInt('pids limit', limit, 1));
}

export function planPids(pids: PidsResources | undefined): CgroupStep[] {
  if (pids?.limit === undefined) return [];
  return [write('pids.max', pidsMaxValue(pids.limit))];
}

export function readPidsStats(read: CgroupFileReader): PidsStats {
  return { current: parseNumber(read('pids.current')), limit: parseLimit(read('pids.max')) };
}
