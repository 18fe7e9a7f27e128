import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSG_ERROR, RTM_NEWLINK, delLink, encodeAttrs, encodeMessage, ifinfomsg, newAddr, newBridge,
  newDefaultRoute, newVeth, parseAttrs, parseError, parseLink, parseRoute, rtmsg, setLink, splitMessages, strAttr, u32Attr,
  IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER, IFLA_NET_NS_FD, RTA_DST,
  RTA_OIF, ipv4Attr, NLMSGERR_ATTR_MSG,
} from './netlink.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('RTM_DELLINK by name: golden bytes', () => {
  assert.deepEqual(
    delLink('kt0'),
    hex('28000000 1100 0500 00000000 00000000  00000000 00000000 00000000 00000000  0800 0300 6b743000'),
  );
});

test('RTM_NEWADDR 10.213.1.2/24 on ifindex 7: golden bytes', () => {
  assert.deepEqual(
    newAddr(7, '10.213.1.2', 24),
    hex('28000000 1400 0506 00000000 00000000  02180000 07000000  0800 0200 0ad50102  0800 0100 0ad50102'),
  );
});

test('RTM_NEWROUTE default via 10.213.1.1 in the main table: golden bytes', () => {
  assert.deepEqual(
    newDefaultRoute('10.213.1.1'),
    hex('24000000 1800 0506 00000000 00000000  02000000 fe030001 00000000  0800 0500 0ad50101'),
  );
});

test('RTM_NEWLINK bridge: IFLA_IFNAME, IFLA_MTU, IFLA_LINKINFO { IFLA_INFO_KIND "bridge" }', () => {
  const m = newBridge('kt-br', 1500);
  assert.deepEqual(
    m,
    hex(
      '44000000 1000 0506 00000000 00000000  00000000 00000000 00000000 00000000' +
        '0a00 0300 6b742d6272000000  0800 0400 dc050000' +
        '1000 1200 0b00 0100 6272696467650000',
    ),
  );
});

test('veth with the peer created in another namespace as eth0, enslaved to a bridge', () => {
  const m = newVeth({ name: 'kv1', peerName: 'eth0', peerNetnsFd: 9, mtu: 1400, masterIndex: 5 });
  const [raw] = splitMessages(m);
  assert.ok(raw);
  assert.equal(raw.type, RTM_NEWLINK);
  const attrs = parseAttrs(raw.payload.subarray(16));
  assert.equal(attrs.get(IFLA_IFNAME)?.toString(), 'kv1\0');
  assert.equal(attrs.get(IFLA_MTU)?.readUInt32LE(0), 1400);
  assert.equal(attrs.get(IFLA_MASTER)?.readUInt32LE(0), 5);
  const info = parseAttrs(attrs.get(IFLA_LINKINFO) ?? Buffer.alloc(0));
  assert.equal(info.get(IFLA_INFO_KIND)?.toString(), 'veth\0');
  const data = parseAttrs(info.get(IFLA_INFO_DATA) ?? Buffer.alloc(0));
  const peer = data.get(VETH_INFO_PEER) ?? Buffer.alloc(0);
  assert.deepEqual(peer.subarray(0, 16), ifinfomsg());
  const peerAttrs = parseAttrs(peer.subarray(16));
  assert.equal(peerAttrs.get(IFLA_IFNAME)?.toString(), 'eth0\0');
  assert.equal(peerAttrs.get(IFLA_NET_NS_FD)?.readUInt32LE(0), 9);
});

test('set link: up, rename, move to a namespace fd', () => {
  const m = setLink({ index: 3, up: true, name: 'eth0', netnsFd: 11 });
  assert.deepEqual(m.subarray(16, 32), hex('00000000 03000000 01000000 01000000'));
  const attrs = parseAttrs(m.subarray(32));
  assert.equal(attrs.get(IFLA_IFNAME)?.toString(), 'eth0\0');
  assert.equal(attrs.get(IFLA_NET_NS_FD)?.readUInt32LE(0), 11);
});

test('an error reply with extended ack: errno and the kernel text', () => {
  const request = delLink('nope');
  const tlv = encodeAttrs([strAttr(NLMSGERR_ATTR_MSG, 'Device does not exist')]);
  const errno = Buffer.alloc(4);
  errno.writeInt32LE(-19, 0);
  const reply = encodeMessage(NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS, Buffer.concat([errno, request.subarray(0, 16), tlv]));
  const [m] = splitMessages(reply);
  assert.ok(m);
  assert.deepEqual(parseError(m), { errno: 19, message: 'Device does not exist' });
  // not capped: the request is echoed before the TLVs
  const echoed = encodeMessage(NLMSG_ERROR, NLM_F_ACK_TLVS, Buffer.concat([errno, request, tlv]));
  assert.deepEqual(parseError(splitMessages(echoed)[0]!), { errno: 19, message: 'Device does not exist' });
  const ack = encodeMessage(NLMSG_ERROR, 0, Buffer.concat([Buffer.alloc(4), request.subarray(0, 16)]));
  assert.deepEqual(parseError(splitMessages(ack)[0]!), { errno: 0, message: undefined });
});

test('parses links and routes of a dump, several messages per datagram', () => {
  const link = encodeMessage(RTM_NEWLINK, 2, ifinfomsg(4, 1), [
    strAttr(IFLA_IFNAME, 'kt-br'),
    u32Attr(IFLA_MTU, 1500),
    { type: IFLA_LINKINFO, value: [strAttr(IFLA_INFO_KIND, 'bridge')] },
  ]);
  const route = encodeMessage(24, 2, rtmsg(16, 2, 254), [ipv4Attr(RTA_DST, '10.88.0.0'), u32Attr(RTA_OIF, 4)]);
  const msgs = splitMessages(Buffer.concat([link, route]));
  assert.equal(msgs.length, 2);
  assert.deepEqual(parseLink(msgs[0]!), { index: 4, name: 'kt-br', flags: 1, mtu: 1500, master: undefined, kind: 'bridge', mac: undefined });
  assert.deepEqual(parseRoute(msgs[1]!), { family: 2, dstLen: 16, table: 254, dst: '10.88.0.0', oif: 4, gateway: undefined });
});

test('hairpin on a bridge port: RTM_SETLINK, AF_BRIDGE, nested IFLA_PROTINFO { IFLA_BRPORT_MODE 1 }: golden bytes', async () => {
  const { setHairpin } = await import('./netlink.js');
  assert.deepEqual(
    setHairpin(12, true),
    hex('2c000000 1300 0500 00000000 00000000  07000000 0c000000 00000000 00000000  0c00 0c80 0500 0400 01000000'),
  );
});
