/**
 * What the engine adds to a container on a bridge network besides the attachment: /etc/hosts and
 * /etc/resolv.conf as files in the container's directory, bind-mounted read-only (the files, so
 * kapsel's in-place rewrites of the hosts file reach the container), and docker's
 * `NetworkSettings` for `inspect` from the attachment records. Pure except prepareNetworkFiles,
 * which writes the two files.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Mount } from '../oci/runtime-spec.js';
import { hostsFile, resolvConf } from './hosts.js';
import type { Attachment, NetworkRecord } from './types.js';

export interface NetworkFiles {
  readonly hostsPath: string;
  readonly resolvConfPath: string;
  /** Append to config.json's mounts before `create`. */
  readonly mounts: Mount[];
}

/** Writes `<dir>/hosts` (localhost and the hostname until attach fills it) and `<dir>/resolv.conf`. */
export function prepareNetworkFiles(dir: string, hostname: string, hostResolvConf: string): NetworkFiles {
  const hostsPath = join(dir, 'hosts');
  const resolvConfPath = join(dir, 'resolv.conf');
  writeFileSync(hostsPath, hostsFile({ hostname, ips: [] }, []));
  writeFileSync(resolvConfPath, resolvConf(hostResolvConf));
  const bind = (source: string, destination: string): Mount => ({ destination, type: 'bind', source, options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] });
  return { hostsPath, resolvConfPath, mounts: [bind(hostsPath, '/etc/hosts'), bind(resolvConfPath, '/etc/resolv.conf')] };
}

export interface DockerNetworkSettings {
  Networks: Record<string, { IPAddress: string; IPPrefixLen: number; Gateway: string; MacAddress: string; Aliases: string[]; NetworkID: string }>;
  Ports: Record<string, { HostIp: string; HostPort: string }[]>;
  IPAddress: string;
  Gateway: string;
  MacAddress: string;
}

/** docker inspect's NetworkSettings for `containerId` (the first network fills the top-level fields). */
export function networkSettings(containerId: string, networks: readonly NetworkRecord[]): DockerNetworkSettings {
  const mine: { net: NetworkRecord; att: Attachment }[] = networks.flatMap((net) => {
    const att = net.attachments[containerId];
    return att === undefined ? [] : [{ net, att }];
  });
  const out: DockerNetworkSettings = { Networks: {}, Ports: {}, IPAddress: '', Gateway: '', MacAddress: '' };
  for (const { net, att } of mine) {
    out.Networks[net.name] = {
      IPAddress: att.ip, IPPrefixLen: Number(net.subnet.split('/')[1]), Gateway: net.gateway, MacAddress: att.mac, Aliases: [...att.aliases], NetworkID: net.id,
    };
    for (const p of att.ports) (out.Ports[`${p.containerPort}/${p.protocol}`] ??= []).push({ HostIp: p.hostIp === '' ? '0.0.0.0' : p.hostIp, HostPort: String(p.hostPort) });
  }
  const first = mine[0];
  if (first !== undefined) Object.assign(out, { IPAddress: first.att.ip, Gateway: first.net.gateway, MacAddress: first.att.mac });
  return out;
}
