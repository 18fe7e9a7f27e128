/**
 * /etc/hosts and /etc/resolv.conf for a container (pure). Containers on a user-defined network
 * find each other by name through their hosts files: each attach and detach rewrites the hosts
 * file of every container on the network. That needs no process running beside the containers
 * (an embedded DNS server would need a daemon per network), and busybox, musl and glibc all read
 * /etc/hosts first. The price: a name added later is seen only because kapsel rewrites the file
 * in place (the file, not a rename, so a bind mount of it stays valid).
 */
import type { Attachment, NetworkRecord } from './types.js';

export function hostsFile(self: { hostname: string; ips: readonly string[] }, peers: readonly Attachment[]): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  for (const ip of self.ips) lines.push(`${ip}\t${self.hostname}`);
  for (const p of peers) lines.push(`${p.ip}\t${[p.hostname, ...p.aliases, p.containerId.slice(0, 12)].filter((v, i, a) => v !== '' && a.indexOf(v) === i).join(' ')}`);
  return `${lines.join('\n')}\n`;
}

/** Hosts file content for `containerId`: its own addresses and every peer on the networks it shares. */
export function hostsFor(containerId: string, networks: readonly NetworkRecord[]): string | undefined {
  const mine = networks.filter((n) => Object.hasOwn(n.attachments, containerId));
  const first = mine[0]?.attachments[containerId];
  if (first === undefined) return undefined;
  const peers = new Map<string, Attachment>();
  for (const n of mine) {
    for (const a of Object.values(n.attachments)) if (a.containerId !== containerId && !peers.has(a.containerId)) peers.set(a.containerId, a);
  }
  return hostsFile({ hostname: first.hostname, ips: mine.map((n) => n.attachments[containerId]!.ip) }, [...peers.values()]);
}

/**
 * resolv.conf from the host's: nameservers on loopback (systemd-resolved's 127.0.0.53, a local
 * dnsmasq) cannot be reached from the container's namespace and are dropped; with none left,
 * the public resolvers docker falls back to.
 */
export function resolvConf(hostResolvConf: string): string {
  const keep: string[] = [];
  let servers = 0;
  for (const line of hostResolvConf.split('\n')) {
    const t = line.trim();
    const m = /^nameserver\s+(\S+)/.exec(t);
    if (m !== null) {
      if (/^127\./.test(m[1]!) || m[1] === '::1') continue;
      servers++;
      keep.push(t);
    } else if (/^(search|domain|options)\s/.test(t)) keep.push(t);
  }
  if (servers === 0) keep.push('nameserver 8.8.8.8', 'nameserver 8.8.4.4');
  return `${keep.join('\n')}\n`;
}
