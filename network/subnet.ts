/**
 * Which subnet a new network gets (pure): the one asked for, if it overlaps neither a route of
 * the host's main table nor another kapsel network; otherwise the first free candidate. Routes
 * are what matter: an address range the host already reaches some other way (a LAN, a VPN,
 * podman's 10.88.0.0/16 on cni-podman0, docker's 172.17.0.0/16) would be shadowed.
 */
import { KapselError } from '../common/errors.js';
import { overlaps, parseIp, parseSubnet } from './ipv4.js';
import type { Subnet } from './ipv4.js';
import type { RouteInfo } from './netlink.js';
import type { NetworkRecord } from './types.js';

const RT_TABLE_MAIN = 254;

export function* candidateSubnets(): Generator<Subnet> {
  yield parseSubnet('172.30.0.0/16');
  yield parseSubnet('172.31.0.0/16');
  for (let i = 0; i < 256; i++) yield parseSubnet(`10.210.${i}.0/24`);
}

export function chooseSubnet(requested: string | undefined, routes: readonly RouteInfo[], networks: readonly NetworkRecord[]): Subnet {
  const taken = [
    ...networks.map((n) => ({ what: `network \`${n.name}\``, subnet: parseSubnet(n.subnet) })),
    ...routes
      .filter((r) => r.family === 2 && r.table === RT_TABLE_MAIN && r.dstLen > 0)
      .map((r) => ({ what: `host route ${r.dst}/${r.dstLen}`, subnet: { base: parseIp(r.dst), prefixLen: r.dstLen } })),
  ];
  if (requested !== undefined) {
    const subnet = parseSubnet(requested);
    const clash = taken.find((t) => overlaps(t.subnet, subnet));
    if (clash !== undefined) throw new KapselError('ERR_SUBNET_IN_USE', `subnet ${requested} overlaps ${clash.what}`);
    return subnet;
  }
  for (const c of candidateSubnets()) if (!taken.some((t) => overlaps(t.subnet, c))) return c;
  throw new KapselError('ERR_SUBNET_IN_USE', 'no free subnet for a new network', { hint: 'pass --subnet' });
}
