/**
 * v1 `net_cls` controller (Documentation/admin-guide/cgroup-v1/net_cls.rst): tags packets with
 * a class id for tc/iptables. Applied only when the hierarchy is mounted.
 */

import { checkInt, write, type CgroupStep } from '../cgroup-plan.js';
import type { NetworkResources } from '../../oci/runtime-spec.js';

export function planNetClsV1(network: NetworkResources | undefined): CgroupStep[] {
  if (network?.classID === undefined) return [];
  return [write('net_cls.classid', checkInt('network class id', network.classID, 0, 0xffffffff))];
}
