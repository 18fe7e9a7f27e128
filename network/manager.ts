/**
 * Bridge networks for containers: create/list/inspect/remove, and attach/detach of a container's
 * network namespace (the engine calls attach between `runtime create` and `start`, with
 * netnsPath = /proc/<init pid>/ns/net). Every operation runs under the networks lock and ends
 * by replacing kapsel's nftables table from the records, so rules always match the records.
 * Attachments whose namespace is gone (the container died, an attaching process was killed)
 * are removed at the start of every locked operation.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import type { Syscalls } from '../sys/syscalls.js';
import { KapselError, UsageError } from '../common/errors.js';
import { NetworkStore, checkNetworkName, DEFAULT_STORE_ROOT } from './store.js';
import { Rtnetlink } from './rtnetlink.js';
import { allocateIp, macForIp } from './ipam.js';
import { formatIp, formatSubnet, parseIp, parseSubnet, contains, hostRange } from './ipv4.js';
import { chooseSubnet } from './subnet.js';
import { parseProcNet } from './host-ports.js';
import { deleteLink, ensureBridge, nextIfname, plugContainer } from './links.js';
import { planNftTable, tableName } from './nft-plan.js';
import { setForwardingNeeded, ipForwardRecordPath } from './ip-forward.js';
import { hostsFor, resolvConf } from './hosts.js';
import type { Attachment, NetworkRecord, PortMapping } from './types.js';
import { join } from 'node:path';

export const DEFAULT_NETWORK = 'kapsel0';
const DEFAULT_MTU = 1500;
export interface NetworkDeps {
  readonly sys: Syscalls;
  /** Runs an nft batch (sys/libnftables.ts runNft); injected so unit tests need no kernel. */
  readonly nft: (commands: string, what: string) => string;
  readonly storeRoot?: string | undefined;
  readonly ipForwardRecord?: string;
}

export interface CreateNetworkOptions {
  readonly name: string;
  readonly subnet?: string | undefined;
  readonly gateway?: string | undefined;
  readonly internal?: boolean | undefined;
  /** Bridge device name (default `kb-<12 hex>`; `kapsel0` for the default network). */
  readonly bridge?: string | undefined;
  readonly mtu?: number | undefined;
}

export interface AttachRequest {
  readonly network: string;
  readonly containerId: string;
  readonly netnsPath: string;
  readonly ip?: string | undefined;
  readonly ports?: readonly PortMapping[];
  readonly hostname?: string;
  readonly aliases?: readonly string[];
  readonly hostsPath?: string | undefined;
}

export interface AttachResult {
  readonly network: string;
  readonly ip: string;
  readonly prefixLen: number;
  readonly gateway: string;
  readonly mac: string;
  readonly ifname: string;
  readonly hostVeth: string;
  readonly ports: readonly PortMapping[];
}

const hex = (s: string, n: number): string => createHash('sha256').update(s).digest('hex').slice(0, n);

export function netnsIdOf(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

export class NetworkManager {
  readonly #deps: NetworkDeps;
  readonly store: NetworkStore;
  readonly table: string;

  constructor(deps: NetworkDeps) {
    this.#deps = deps;
    this.store = new NetworkStore(deps.sys, deps.storeRoot ?? DEFAULT_STORE_ROOT);
    this.table = tableName(this.store.key);
  }

  list(): NetworkRecord[] {
    return this.store.list();
  }

  inspect(name: string): NetworkRecord {
    const net = this.store.get(name === 'bridge' ? DEFAULT_NETWORK : name);
    if (net === undefined) throw new KapselError('ERR_NOT_FOUND', `network \`${name}\` does not exist`);
    return net;
  }

  create(opts: CreateNetworkOptions): NetworkRecord {
    checkNetworkName(opts.name);
    if (opts.name === 'bridge' || opts.name === 'host' || opts.name === 'none') throw new UsageError(`network name \`${opts.name}\` is reserved`);
    return this.store.withLock(() => this.#createLocked(opts));
  }

  #createLocked(opts: CreateNetworkOptions): NetworkRecord {
    if (this.store.get(opts.name) !== undefined) throw new KapselError('ERR_EXISTS', `network \`${opts.name}\` already exists`);
    const others = this.store.list();
    const nl = Rtnetlink.open(this.#deps.sys);
    try {
      const routes = nl.routes();
      const subnet = chooseSubnet(opts.subnet, routes, others);
      const gateway = opts.gateway ?? formatIp(hostRange(subnet).first);
      const gw = parseIp(gateway);
      if (!contains(subnet, gw) || gw < hostRange(subnet).first || gw > hostRange(subnet).last) {
        throw new UsageError(`gateway ${gateway} is not a host address of ${formatSubnet(subnet)}`);
      }
      // `kapsel0` is the default store's default bridge; another store (KAPSEL_STORE) gets its own
      const ownName = opts.name === DEFAULT_NETWORK && this.store.dir === join(DEFAULT_STORE_ROOT, 'networks');
      const bridge = opts.bridge ?? (ownName ? DEFAULT_NETWORK : `kb-${hex(`${this.store.dir}/${opts.name}`, 12)}`);
      if (bridge.length > 15 || !/^[a-zA-Z0-9_.-]+$/.test(bridge)) throw new UsageError(`invalid bridge name \`${bridge}\` (at most 15 characters)`);
      if (others.some((n) => n.bridge === bridge)) throw new KapselError('ERR_EXISTS', `bridge \`${bridge}\` is used by another network`);
      // kapsel deletes the bridge with the network: it must never adopt a link it did not create
      if (nl.link(bridge) !== undefined) {
        throw new KapselError('ERR_EXISTS', `link \`${bridge}\` already exists on the host`, { hint: 'choose another name with --bridge, or delete the link if it is a leftover' });
      }
      const net: NetworkRecord = {
        name: opts.name,
        id: hex(`${opts.name}/${Date.now()}/${Math.random()}`, 64),
        bridge,
        subnet: formatSubnet(subnet),
        gateway,
        internal: opts.internal === true,
        mtu: opts.mtu ?? DEFAULT_MTU,
        created: new Date().toISOString(),
        attachments: {},
      };
      this.store.save(net);
      try {
        ensureBridge(nl, net);
        this.#apply();
      } catch (err) {
        this.store.delete(net.name);
        deleteLink(nl, net.bridge);
        this.#apply();
        throw err;
      }
      return net;
    } finally {
      nl.close();
    }
  }

  /** Removes a network; refused while live containers are attached. */
  remove(name: string): void {
    this.store.withLock(() => {
      this.#cleanStale();
      const net = this.inspect(name);
      const live = Object.keys(net.attachments);
      if (live.length > 0) throw new KapselError('ERR_NETWORK_IN_USE', `network \`${net.name}\` has attached containers: ${live.join(', ')}`);
      this.store.delete(net.name);
      const nl = Rtnetlink.open(this.#deps.sys);
      try {
        deleteLink(nl, net.bridge);
      } finally {
        nl.close();
      }
      this.#apply();
    });
  }

  attach(req: AttachRequest): AttachResult {
    const name = req.network === 'bridge' ? DEFAULT_NETWORK : req.network;
    if (netnsIdOf(req.netnsPath) === undefined) throw new KapselError('ERR_NOT_FOUND', `network namespace \`${req.netnsPath}\` does not exist`);
    return this.store.withLock(() => {
      // the default network exists while containers use it: made by the first attach, under
      // the same lock as the last detach that removes it
      if (name === DEFAULT_NETWORK && this.store.get(name) === undefined) {
        this.#cleanStale();
        this.#createLocked({ name: DEFAULT_NETWORK });
      }
      return this.#attachLocked({ ...req, network: name });
    });
  }

  /** Removes the default network once nothing is attached to it (bridge, record; #apply after). */
  #dropDefaultIfUnused(): void {
    const net = this.store.get(DEFAULT_NETWORK);
    if (net === undefined || Object.keys(net.attachments).length > 0) return;
    this.store.delete(DEFAULT_NETWORK);
    const nl = Rtnetlink.open(this.#deps.sys);
    try {
      deleteLink(nl, net.bridge);
    } finally {
      nl.close();
    }
  }

  #attachLocked(req: AttachRequest): AttachResult {
    this.#cleanStale();
    const net = this.inspect(req.network);
    if (Object.hasOwn(net.attachments, req.containerId)) {
      throw new KapselError('ERR_EXISTS', `container \`${req.containerId}\` is already attached to network \`${net.name}\``);
    }
    const netnsId = netnsIdOf(req.netnsPath);
    if (netnsId === undefined) throw new KapselError('ERR_NOT_FOUND', `network namespace \`${req.netnsPath}\` does not exist`);
    const ip = allocateIp(net, req.ip);
    const prefixLen = parseSubnet(net.subnet).prefixLen;
    const ifname = nextIfname(this.#deps.sys, req.netnsPath);
    const att: Attachment = {
      containerId: req.containerId,
      ip,
      mac: macForIp(ip),
      hostVeth: `kv${hex(`${this.store.dir}/${net.name}/${req.containerId}`, 12)}`,
      ifname,
      netnsPath: req.netnsPath,
      netnsId,
      ports: net.internal ? [] : (req.ports ?? []),
      hostname: req.hostname ?? req.containerId.slice(0, 12),
      aliases: req.aliases ?? [],
      ...(req.hostsPath !== undefined && { hostsPath: req.hostsPath }),
    };
    this.#checkPortsFree(att);
    // Recorded before any link exists: a crash from here on leaves a record that the stale
    // clean-up removes with its veth once the namespace is gone.
    this.store.save({ ...net, attachments: { ...net.attachments, [att.containerId]: att } });
    const nl = Rtnetlink.open(this.#deps.sys);
    try {
      const bridgeIndex = ensureBridge(nl, net);
      plugContainer(this.#deps.sys, nl, bridgeIndex, req.netnsPath, {
        hostVeth: att.hostVeth, ifname, mac: att.mac, ip, prefixLen, gateway: net.gateway, mtu: net.mtu,
        defaultRoute: !net.internal && ifname === 'eth0',
      });
      this.#apply();
    } catch (err) {
      deleteLink(nl, att.hostVeth);
      this.store.save(net);
      this.#apply();
      throw err;
    } finally {
      nl.close();
    }
    this.#writeHosts(net.name);
    return { network: net.name, ip, prefixLen, gateway: net.gateway, mac: att.mac, ifname, hostVeth: att.hostVeth, ports: att.ports };
  }

  #checkPortsFree(att: Attachment): void {
    const listeners = (['tcp', 'udp'] as const).flatMap((proto) => ['', '6'].flatMap((v) => {
      try {
        return parseProcNet(readFileSync(`/proc/net/${proto}${v}`, 'utf8'), proto);
      } catch {
        return [];
      }
    }));
    for (const q of att.ports) {
      if (listeners.some((l) => l.protocol === q.protocol && l.port === q.hostPort)) {
        throw new KapselError('ERR_PORT_IN_USE', `host port ${q.hostPort}/${q.protocol} is in use by a process on the host`);
      }
    }
    for (const n of this.store.list()) {
      for (const a of Object.values(n.attachments)) {
        for (const p of a.ports) {
          const clash = att.ports.find((q) => q.protocol === p.protocol && q.hostPort === p.hostPort && (q.hostIp === '' || p.hostIp === '' || q.hostIp === p.hostIp));
          if (clash !== undefined) throw new KapselError('ERR_PORT_IN_USE', `host port ${clash.hostPort}/${clash.protocol} is already published by container \`${a.containerId}\``);
        }
      }
    }
  }

  /** Detaches a container from one network, or from every network when `network` is undefined. */
  detach(containerId: string, network?: string): void {
    // nothing recorded for it (a container that never joined a network): no lock, no rebuild
    if (network === undefined && !this.store.list().some((n) => Object.hasOwn(n.attachments, containerId))) return;
    this.store.withLock(() => {
      this.#cleanStale();
      const nets = network === undefined ? this.store.list() : [this.inspect(network)];
      let found = false;
      const nl = Rtnetlink.open(this.#deps.sys);
      try {
        for (const net of nets) {
          const att = net.attachments[containerId];
          if (att === undefined) continue;
          found = true;
          deleteLink(nl, att.hostVeth);
          const { [containerId]: _gone, ...rest } = net.attachments;
          this.store.save({ ...net, attachments: rest });
          this.#writeHosts(net.name);
        }
      } finally {
        nl.close();
      }
      if (network !== undefined && !found) throw new KapselError('ERR_NOT_FOUND', `container \`${containerId}\` is not attached to network \`${network}\``);
      this.#dropDefaultIfUnused();
      this.#apply();
    });
  }

  /** Published ports of a container, from the attachment records. */
  ports(containerId: string): PortMapping[] {
    return this.store.list().flatMap((n) => n.attachments[containerId]?.ports ?? []);
  }

  /** Attachments of a container, by network name. */
  attachments(containerId: string): { network: NetworkRecord; attachment: Attachment }[] {
    return this.store.list().flatMap((n) => (n.attachments[containerId] === undefined ? [] : [{ network: n, attachment: n.attachments[containerId]! }]));
  }

  /** Removes stale attachments now (also done by every locked operation). */
  cleanStale(): string[] {
    return this.store.withLock(() => {
      const gone = this.#cleanStale();
      this.#dropDefaultIfUnused();
      this.#apply();
      return gone;
    });
  }

  #cleanStale(): string[] {
    const gone: string[] = [];
    let nl: Rtnetlink | undefined;
    try {
      for (const net of this.store.list()) {
        const stale = Object.values(net.attachments).filter((a) => netnsIdOf(a.netnsPath) !== a.netnsId);
        if (stale.length === 0) continue;
        nl ??= Rtnetlink.open(this.#deps.sys);
        const rest = { ...net.attachments };
        for (const a of stale) {
          deleteLink(nl, a.hostVeth);
          delete rest[a.containerId];
          gone.push(`${net.name}/${a.containerId}`);
        }
        this.store.save({ ...net, attachments: rest });
        this.#writeHosts(net.name);
      }
    } finally {
      nl?.close();
    }
    return gone;
  }

  /** Rewrites the hosts file of every container on `network` that has one (in place). */
  #writeHosts(network: string): void {
    const all = this.store.list();
    const net = all.find((n) => n.name === network);
    if (net === undefined) return;
    for (const a of Object.values(net.attachments)) {
      if (a.hostsPath === undefined) continue;
      const text = hostsFor(a.containerId, all);
      if (text !== undefined) writeFileSync(a.hostsPath, text);
    }
  }

  /** Replaces the nft table from the records and sets or restores ip_forward. */
  #apply(): void {
    const nets = this.store.list();
    this.#deps.nft(planNftTable(this.table, nets), `apply nftables table \`ip ${this.table}\``);
    setForwardingNeeded(this.#deps.sys, this.table, nets.some((n) => !n.internal), this.#deps.ipForwardRecord ?? ipForwardRecordPath(this.#deps.sys));
  }
}

/** /etc/hosts content for a container from the records (the engine writes it before start). */
export function containerHosts(mgr: NetworkManager, containerId: string): string | undefined {
  return hostsFor(containerId, mgr.list());
}

/** /etc/resolv.conf content for a container, from the host's. */
export function containerResolvConf(hostPath = '/etc/resolv.conf'): string {
  let text = '';
  try {
    text = readFileSync(hostPath, 'utf8');
  } catch {
    // no resolv.conf on the host: the fallback resolvers
  }
  return resolvConf(text);
}
