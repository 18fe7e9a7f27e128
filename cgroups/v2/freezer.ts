/**
 * v2 freezer (Documentation/admin-guide/cgroup-v2.rst "Core Interface Files"): write 1 or 0
 * to cgroup.freeze; the cgroup is frozen once cgroup.events reads `frozen 1`. Core files:
 * they need no controller and exist in every non-root cgroup since Linux 5.2.
 */

import { parseFlatKeyed } from '../stats.js';

export const CGROUP_FREEZE = 'cgroup.freeze';
export const CGROUP_EVENTS = 'cgroup.events';

/** cgroup.events `frozen` is 1 once every task has stopped. */
export function eventsFrozen(events: string | undefined): boolean {
  return parseFlatKeyed(events).get('frozen') === 1;
}
