/**
 * rtnetlink messages, built and parsed as bytes (pure: no syscalls). netlink(7), rtnetlink(7);
 * layouts from include/uapi/linux/netlink.h, rtnetlink.h, if_link.h, if_addr.h, veth.h.
 * Every struct is in host byte order (little-endian here, x86_64 and aarch64); addresses in
 * attributes are in network order. Attributes are TLVs padded to 4 bytes (NLA_ALIGNTO).
 */

// netlink.h: message types and flags
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300; // NLM_F_ROOT | NLM_F_MATCH
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
/** In an NLMSG_ERROR reply: the request's payload was not echoed; TLVs follow. */
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;
export const NLMSGERR_ATTR_MSG = 1;

// rtnetlink.h: message types
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_SETLINK = 19;
export const RTM_NEWADDR = 20;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_GETROUTE = 26;

// if_link.h
export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_MASTER = 10;
export const IFLA_LINKINFO = 18;
export const IFLA_NET_NS_FD = 28;
export const IFLA_PROTINFO = 12;
export const IFLA_BRPORT_MODE = 4; // hairpin: a frame may leave by the port it came in
export const NLA_F_NESTED = 0x8000;
export const AF_BRIDGE = 7;
export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const VETH_INFO_PEER = 1; // veth.h: payload is struct ifinfomsg + IFLA_* attributes

// if_addr.h, rtnetlink.h
export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_TABLE = 15;
export const RT_TABLE_MAIN = 254;
export const RTPROT_BOOT = 3;
export const RT_SCOPE_UNIVERSE = 0;
export const RTN_UNICAST = 1;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const IFF_UP = 0x1;

const NLMSG_HDRLEN = 16;
const IFINFOMSG_LEN = 16;
const IFADDRMSG_LEN = 8;
const RTMSG_LEN = 12;

const align4 = (n: number): number => (n + 3) & ~3;

/** One rtattr: nested attributes are built by passing an array of child attributes. */
export interface Attr {
  readonly type: number;
  readonly value: Buffer | readonly Attr[];
}

export function u32Attr(type: number, v: number): Attr {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return { type, value: b };
}
export function strAttr(type: number, s: string): Attr {
  return { type, value: Buffer.from(`${s}\0`, 'utf8') };
}
export function ipv4Attr(type: number, ip: string): Attr {
  return { type, value: ipv4Bytes(ip) };
}

export function ipv4Bytes(ip: string): Buffer {
  return Buffer.from(ip.split('.').map((p) => Number(p)));
}

export function encodeAttrs(attrs: readonly Attr[]): Buffer {
  const parts: Buffer[] = [];
  for (const a of attrs) {
    const payload = Buffer.isBuffer(a.value) ? a.value : encodeAttrs(a.value as readonly Attr[]);
    const head = Buffer.alloc(4);
    head.writeUInt16LE(4 + payload.length, 0);
    head.writeUInt16LE(a.type, 2);
    parts.push(head, payload, Buffer.alloc(align4(payload.length) - payload.length));
  }
  return Buffer.concat(parts);
}

/** A complete message: nlmsghdr + family header + attributes. The sequence number is patched in by the client. */
export function encodeMessage(type: number, flags: number, header: Buffer, attrs: readonly Attr[] = [], seq = 0): Buffer {
  const body = Buffer.concat([header, Buffer.alloc(align4(header.length) - header.length), encodeAttrs(attrs)]);
  const msg = Buffer.alloc(NLMSG_HDRLEN + body.length);
  msg.writeUInt32LE(msg.length, 0);
  msg.writeUInt16LE(type, 4);
  msg.writeUInt16LE(flags, 6);
  msg.writeUInt32LE(seq, 8);
  msg.writeUInt32LE(0, 12); // nlmsg_pid: 0, the kernel fills in the port id
  body.copy(msg, NLMSG_HDRLEN);
  return msg;
}

/** struct ifinfomsg { u8 family, pad; u16 type; i32 index; u32 flags, change }. */
export function ifinfomsg(index = 0, flags = 0, change = 0, family = AF_UNSPEC): Buffer {
  const b = Buffer.alloc(IFINFOMSG_LEN);
  b.writeUInt8(family, 0);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags >>> 0, 8);
  b.writeUInt32LE(change >>> 0, 12);
  return b;
}

/** struct ifaddrmsg { u8 family, prefixlen, flags, scope; u32 index }. */
export function ifaddrmsg(index: number, prefixLen: number, family = AF_INET): Buffer {
  const b = Buffer.alloc(IFADDRMSG_LEN);
  b.writeUInt8(family, 0);
  b.writeUInt8(prefixLen, 1);
  b.writeUInt32LE(index, 4);
  return b;
}

/** struct rtmsg { u8 family, dst_len, src_len, tos, table, protocol, scope, type; u32 flags }. */
export function rtmsg(dstLen: number, family = AF_INET, table = 0, protocol = 0, scope = 0, type = 0): Buffer {
  const b = Buffer.alloc(RTMSG_LEN);
  b.writeUInt8(family, 0);
  b.writeUInt8(dstLen, 1);
  b.writeUInt8(table, 4);
  b.writeUInt8(protocol, 5);
  b.writeUInt8(scope, 6);
  b.writeUInt8(type, 7);
  return b;
}

const REQ_CREATE = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
const REQ = NLM_F_REQUEST | NLM_F_ACK;

// ---- requests -------------------------------------------------------------------------------

/** `ip link add NAME type bridge [mtu N]`. */
export function newBridge(name: string, mtu?: number): Buffer {
  const attrs: Attr[] = [strAttr(IFLA_IFNAME, name)];
  if (mtu !== undefined) attrs.push(u32Attr(IFLA_MTU, mtu));
  attrs.push({ type: IFLA_LINKINFO, value: [strAttr(IFLA_INFO_KIND, 'bridge')] });
  return encodeMessage(RTM_NEWLINK, REQ_CREATE, ifinfomsg(), attrs);
}

export interface VethRequest {
  readonly name: string;
  readonly peerName: string;
  /** Create the peer directly in this network namespace (an fd on /proc/<pid>/ns/net). */
  readonly peerNetnsFd?: number;
  /** The peer's MAC address, aa:bb:cc:dd:ee:ff. */
  readonly peerMac?: string;
  readonly mtu?: number;
  /** Enslave the host end to this bridge (ifindex) at creation. */
  readonly masterIndex?: number;
}

/** `ip link add NAME [mtu] [master BR] type veth peer name PEER [netns FD] [mtu]`. */
export function newVeth(r: VethRequest): Buffer {
  const peer: Attr[] = [strAttr(IFLA_IFNAME, r.peerName)];
  if (r.mtu !== undefined) peer.push(u32Attr(IFLA_MTU, r.mtu));
  if (r.peerNetnsFd !== undefined) peer.push(u32Attr(IFLA_NET_NS_FD, r.peerNetnsFd));
  if (r.peerMac !== undefined) peer.push({ type: IFLA_ADDRESS, value: Buffer.from(r.peerMac.split(':').map((x) => parseInt(x, 16))) });
  const peerInfo = Buffer.concat([ifinfomsg(), encodeAttrs(peer)]);
  const attrs: Attr[] = [strAttr(IFLA_IFNAME, r.name)];
  if (r.mtu !== undefined) attrs.push(u32Attr(IFLA_MTU, r.mtu));
  if (r.masterIndex !== undefined) attrs.push(u32Attr(IFLA_MASTER, r.masterIndex));
  attrs.push({
    type: IFLA_LINKINFO,
    value: [strAttr(IFLA_INFO_KIND, 'veth'), { type: IFLA_INFO_DATA, value: [{ type: VETH_INFO_PEER, value: peerInfo }] }],
  });
  return encodeMessage(RTM_NEWLINK, REQ_CREATE, ifinfomsg(), attrs);
}

export interface SetLinkRequest {
  readonly index: number;
  readonly up?: boolean;
  readonly name?: string;
  readonly mtu?: number;
  readonly masterIndex?: number;
  /** Move the link to the network namespace of this fd. */
  readonly netnsFd?: number;
}

/** `ip link set dev X [up|down] [name N] [mtu M] [master B] [netns FD]`. */
export function setLink(r: SetLinkRequest): Buffer {
  const attrs: Attr[] = [];
  if (r.name !== undefined) attrs.push(strAttr(IFLA_IFNAME, r.name));
  if (r.mtu !== undefined) attrs.push(u32Attr(IFLA_MTU, r.mtu));
  if (r.masterIndex !== undefined) attrs.push(u32Attr(IFLA_MASTER, r.masterIndex));
  if (r.netnsFd !== undefined) attrs.push(u32Attr(IFLA_NET_NS_FD, r.netnsFd));
  const flags = r.up === true ? IFF_UP : 0;
  const change = r.up === undefined ? 0 : IFF_UP;
  return encodeMessage(RTM_NEWLINK, REQ, ifinfomsg(r.index, flags, change), attrs);
}

/** `bridge link set dev INDEX hairpin on`: RTM_SETLINK for AF_BRIDGE with IFLA_PROTINFO. */
export function setHairpin(index: number, on: boolean): Buffer {
  const protinfo: Attr = { type: IFLA_PROTINFO | NLA_F_NESTED, value: [{ type: IFLA_BRPORT_MODE, value: Buffer.from([on ? 1 : 0]) }] };
  return encodeMessage(RTM_SETLINK, REQ, ifinfomsg(index, 0, 0, AF_BRIDGE), [protinfo]);
}

/** `ip link del NAME` (by name, so no lookup is needed first). */
export function delLink(name: string): Buffer {
  return encodeMessage(RTM_DELLINK, REQ, ifinfomsg(), [strAttr(IFLA_IFNAME, name)]);
}

/** `ip addr add IP/LEN dev INDEX`. */
export function newAddr(index: number, ip: string, prefixLen: number): Buffer {
  const attrs = [ipv4Attr(IFA_LOCAL, ip), ipv4Attr(IFA_ADDRESS, ip)];
  return encodeMessage(RTM_NEWADDR, REQ_CREATE, ifaddrmsg(index, prefixLen), attrs);
}

/** `ip route add default via GW` (main table). */
export function newDefaultRoute(gateway: string, oif?: number): Buffer {
  const attrs: Attr[] = [ipv4Attr(RTA_GATEWAY, gateway)];
  if (oif !== undefined) attrs.push(u32Attr(RTA_OIF, oif));
  return encodeMessage(RTM_NEWROUTE, REQ_CREATE, rtmsg(0, AF_INET, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST), attrs);
}

export function getLinkByName(name: string): Buffer {
  return encodeMessage(RTM_GETLINK, NLM_F_REQUEST, ifinfomsg(), [strAttr(IFLA_IFNAME, name)]);
}
export function dumpLinks(): Buffer {
  return encodeMessage(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, ifinfomsg());
}
export function dumpAddrs(): Buffer {
  return encodeMessage(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, ifaddrmsg(0, 0));
}
export function dumpRoutes(): Buffer {
  return encodeMessage(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, rtmsg(0));
}

// ---- replies --------------------------------------------------------------------------------

export interface RawMessage {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  /** Everything after the nlmsghdr. */
  readonly payload: Buffer;
}

/** Splits a received datagram into its messages. */
export function splitMessages(buf: Buffer): RawMessage[] {
  const out: RawMessage[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) break;
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** Attributes of a payload region, by type (the last one wins, as the kernel does). */
export function parseAttrs(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > buf.length) break;
    out.set(buf.readUInt16LE(off + 2) & 0x3fff, buf.subarray(off + 4, off + len)); // drop NLA_F_NESTED/NET_BYTEORDER
    off += align4(len);
  }
  return out;
}

const cstr = (b: Buffer | undefined): string | undefined => (b === undefined ? undefined : b.toString('utf8').replace(/\0.*$/s, ''));
const u32 = (b: Buffer | undefined): number | undefined => (b === undefined || b.length < 4 ? undefined : b.readUInt32LE(0));
const ipv4 = (b: Buffer | undefined): string | undefined => (b === undefined || b.length !== 4 ? undefined : [...b].join('.'));

/** NLMSG_ERROR: errno 0 is an ACK; otherwise the positive errno and the kernel's extack text. */
export function parseError(m: RawMessage): { errno: number; message: string | undefined } {
  const errno = -m.payload.readInt32LE(0) || 0;
  let message: string | undefined;
  if ((m.flags & NLM_F_ACK_TLVS) !== 0) {
    // struct nlmsgerr { int error; struct nlmsghdr msg; } then the request payload unless capped
    const echoed = (m.flags & NLM_F_CAPPED) !== 0 ? 0 : m.payload.readUInt32LE(4) - NLMSG_HDRLEN;
    message = cstr(parseAttrs(m.payload.subarray(4 + NLMSG_HDRLEN + align4(echoed))).get(NLMSGERR_ATTR_MSG));
  }
  return { errno, message };
}

export interface LinkInfo {
  readonly index: number;
  readonly name: string;
  readonly flags: number;
  readonly mtu: number | undefined;
  readonly master: number | undefined;
  readonly kind: string | undefined;
  readonly mac: string | undefined;
}

export function parseLink(m: RawMessage): LinkInfo {
  const p = m.payload;
  const attrs = parseAttrs(p.subarray(IFINFOMSG_LEN));
  const info = attrs.get(IFLA_LINKINFO);
  const mac = attrs.get(IFLA_ADDRESS);
  return {
    index: p.readInt32LE(4),
    name: cstr(attrs.get(IFLA_IFNAME)) ?? '',
    flags: p.readUInt32LE(8),
    mtu: u32(attrs.get(IFLA_MTU)),
    master: u32(attrs.get(IFLA_MASTER)),
    kind: info === undefined ? undefined : cstr(parseAttrs(info).get(IFLA_INFO_KIND)),
    mac: mac === undefined ? undefined : [...mac].map((x) => x.toString(16).padStart(2, '0')).join(':'),
  };
}

export interface AddrInfo {
  readonly index: number;
  readonly family: number;
  readonly prefixLen: number;
  readonly address: string | undefined;
}

export function parseAddr(m: RawMessage): AddrInfo {
  const p = m.payload;
  const attrs = parseAttrs(p.subarray(IFADDRMSG_LEN));
  return {
    family: p.readUInt8(0),
    prefixLen: p.readUInt8(1),
    index: p.readUInt32LE(4),
    address: ipv4(attrs.get(IFA_LOCAL) ?? attrs.get(IFA_ADDRESS)),
  };
}

export interface RouteInfo {
  readonly family: number;
  readonly table: number;
  readonly dst: string;
  readonly dstLen: number;
  readonly oif: number | undefined;
  readonly gateway: string | undefined;
}

export function parseRoute(m: RawMessage): RouteInfo {
  const p = m.payload;
  const attrs = parseAttrs(p.subarray(RTMSG_LEN));
  return {
    family: p.readUInt8(0),
    dstLen: p.readUInt8(1),
    table: u32(attrs.get(RTA_TABLE)) ?? p.readUInt8(4),
    dst: ipv4(attrs.get(RTA_DST)) ?? '0.0.0.0',
    oif: u32(attrs.get(RTA_OIF)),
    gateway: ipv4(attrs.get(RTA_GATEWAY)),
  };
}
