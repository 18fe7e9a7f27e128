/**
 * The link-level steps of a network, each one netlink request (rtnetlink(7)): the bridge with
 * its gateway address, a veth pair per container with the container end created directly in the
 * container's network namespace, and that end's address and default route. No `ip` command runs.
 */
import { writeFileSync } from 'node:fs';
import { O_CLOEXEC, O_RDONLY } from '../sys/constants.js';
import type { Syscalls } from '../sys/syscalls.js';
import { SyscallError } from '../sys/syscall-error.js';
import { KapselError } from '../common/errors.js';
import { Rtnetlink } from './rtnetlink.js';
import { delLink, newAddr, newBridge, newDefaultRoute, newVeth, setHairpin, setLink } from './netlink.js';
import { parseSubnet } from './ipv4.js';
import type { NetworkRecord } from './types.js';

const ignore = (code: string, fn: () => void): void => {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof SyscallError && err.code === code)) throw err;
  }
};

/** Creates the bridge (gateway address, up, route_localnet) unless it exists; returns its ifindex. */
export function ensureBridge(nl: Rtnetlink, net: NetworkRecord): number {
  let link = nl.link(net.bridge);
  if (link === undefined) {
    ignore('EEXIST', () => nl.request(newBridge(net.bridge, net.mtu), `create bridge \`${net.bridge}\``));
    link = nl.link(net.bridge);
    if (link === undefined) throw new KapselError('ERR_NETWORK_LINK', `bridge \`${net.bridge}\` vanished after creation`);
  } else if (link.kind !== 'bridge') {
    throw new KapselError('ERR_NETWORK_LINK', `link \`${net.bridge}\` of network \`${net.name}\` exists and is not a bridge (${link.kind ?? 'no kind'})`);
  }
  const prefix = parseSubnet(net.subnet).prefixLen;
  ignore('EEXIST', () => nl.request(newAddr(link.index, net.gateway, prefix), `add address ${net.gateway}/${prefix} to \`${net.bridge}\``));
  nl.request(setLink({ index: link.index, up: true }), `set \`${net.bridge}\` up`);
  // Connections to 127.0.0.1:<published port> are DNAT'ed into the bridge with their loopback
  // source; the kernel routes a 127/8 source out of an interface only with route_localnet
  // (ip-sysctl.rst). Per interface: it goes away with the bridge.
  writeFileSync(`/proc/sys/net/ipv4/conf/${net.bridge}/route_localnet`, '1');
  return link.index;
}

export function deleteLink(nl: Rtnetlink, name: string): void {
  ignore('ENODEV', () => nl.request(delLink(name), `delete link \`${name}\``));
}

export interface ContainerLink {
  readonly hostVeth: string;
  readonly ifname: string;
  readonly mac: string;
  readonly ip: string;
  readonly prefixLen: number;
  readonly gateway: string;
  readonly mtu: number;
  readonly defaultRoute: boolean;
}

/** Picks eth0, or eth1... when the container is already on another network. */
export function nextIfname(sys: Syscalls, netnsPath: string): string {
  const nl = Rtnetlink.openInNetns(sys, netnsPath);
  try {
    const names = new Set(nl.links().map((l) => l.name));
    let i = 0;
    while (names.has(`eth${i}`)) i++;
    return `eth${i}`;
  } finally {
    nl.close();
  }
}

/**
 * The veth pair: host end in the bridge and up; container end created in the namespace as
 * `ifname` with its MAC, address, MTU, up, lo up, and the default route via the gateway.
 */
export function plugContainer(sys: Syscalls, host: Rtnetlink, bridgeIndex: number, netnsPath: string, c: ContainerLink): void {
  const nsfd = sys.open(netnsPath, O_RDONLY | O_CLOEXEC);
  try {
    host.request(
      newVeth({ name: c.hostVeth, peerName: c.ifname, peerNetnsFd: nsfd, peerMac: c.mac, mtu: c.mtu, masterIndex: bridgeIndex }),
      `create veth pair \`${c.hostVeth}\`/\`${c.ifname}\` in \`${netnsPath}\``,
    );
  } finally {
    sys.close(nsfd);
  }
  const hostLink = host.link(c.hostVeth);
  if (hostLink === undefined) throw new KapselError('ERR_NETWORK_LINK', `veth \`${c.hostVeth}\` vanished after creation`);
  host.request(setLink({ index: hostLink.index, up: true }), `set \`${c.hostVeth}\` up`);
  // a container reaching its own published port through a host address gets the DNAT'ed frame
  // back through the port it came from
  host.request(setHairpin(hostLink.index, true), `set hairpin on \`${c.hostVeth}\``);
  const inner = Rtnetlink.openInNetns(sys, netnsPath);
  try {
    const lo = inner.link('lo');
    if (lo !== undefined) inner.request(setLink({ index: lo.index, up: true }), 'set `lo` up in the container');
    const eth = inner.link(c.ifname);
    if (eth === undefined) throw new KapselError('ERR_NETWORK_LINK', `\`${c.ifname}\` missing in \`${netnsPath}\``);
    inner.request(newAddr(eth.index, c.ip, c.prefixLen), `add address ${c.ip}/${c.prefixLen} to \`${c.ifname}\` in the container`);
    inner.request(setLink({ index: eth.index, up: true }), `set \`${c.ifname}\` up in the container`);
    if (c.defaultRoute) {
      ignore('EEXIST', () => inner.request(newDefaultRoute(c.gateway, eth.index), `add default route via ${c.gateway} in the container`));
    }
  } finally {
    inner.close();
  }
}
