/**
 * IP address management for one network (pure): the first free host address of the subnet,
 * skipping the gateway and addresses already attached, or exactly the requested one.
 * The caller holds the networks lock while it allocates and persists the result.
 */
import { KapselError, UsageError } from '../common/errors.js';
import { contains, formatIp, hostRange, parseIp, parseSubnet } from './ipv4.js';
import type { NetworkRecord } from './types.js';

export function allocateIp(net: NetworkRecord, requested?: string): string {
  const subnet = parseSubnet(net.subnet);
  const used = new Set<number>([parseIp(net.gateway), ...Object.values(net.attachments).map((a) => parseIp(a.ip))]);
  const { first, last } = hostRange(subnet);
  if (requested !== undefined) {
    const ip = parseIp(requested);
    if (!contains(subnet, ip) || ip < first || ip > last) {
      throw new UsageError(`address \`${requested}\` is not a host address of network \`${net.name}\` (${net.subnet})`);
    }
    if (used.has(ip)) {
      const owner = Object.values(net.attachments).find((a) => a.ip === requested);
      throw new KapselError('ERR_IP_IN_USE', `address \`${requested}\` on network \`${net.name}\` is in use${owner ? ` by container \`${owner.containerId}\`` : ' by the gateway'}`);
    }
    return requested;
  }
  for (let ip = first; ip <= last; ip++) if (!used.has(ip)) return formatIp(ip);
  throw new KapselError('ERR_NETWORK_FULL', `network \`${net.name}\` (${net.subnet}) has no free address`);
}

/** docker's scheme: 02:42 followed by the four address bytes (locally administered, unicast). */
export function macForIp(ip: string): string {
  const n = parseIp(ip);
  return ['02', '42', ...[n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
