/**
 * v1 `net_prio` controller (Documentation/admin-guide/cgroup-v1/net_prio.rst): per-interface
 * priority of egress traffic, one `<ifname> <prio>` write per interface to net_prio.ifpriomap.
 */

import { checkInt, invalidResource, write, type CgroupStep } from '../cgroup-plan.js';
import type { NetworkResources } from '../../oci/runtime-spec.js';

export function planNetPrioV1(network: NetworkResources | undefined): CgroupStep[] {
  return (network?.priorities ?? []).map((p) => {
    if (!/^[^\s/]{1,15}$/.test(p.name)) throw invalidResource(`invalid network interface name \`${p.name}\``);
    return write('net_prio.ifpriomap', `${p.name} ${checkInt('network priority', p.priority, 0, 0xffffffff)}`);
  });
}
