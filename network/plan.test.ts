import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocateIp, macForIp } from './ipam.js';
import { overlaps, parseSubnet, formatSubnet, parseIp } from './ipv4.js';
import { planNftTable, tableName } from './nft-plan.js';
import { formatPort, parsePublish } from './ports.js';
import { hostsFor, resolvConf } from './hosts.js';
import type { Attachment, NetworkRecord } from './types.js';

function att(id: string, ip: string, extra: Partial<Attachment> = {}): Attachment {
  return { containerId: id, ip, mac: macForIp(ip), hostVeth: `kv${id}`, ifname: 'eth0', netnsPath: '/proc/1/ns/net', netnsId: '1:1', ports: [], hostname: id, aliases: [], ...extra };
}
function net(name: string, subnet: string, attachments: Attachment[] = [], extra: Partial<NetworkRecord> = {}): NetworkRecord {
  const s = parseSubnet(subnet);
  const gw = [(s.base + 1) >>> 24, ((s.base + 1) >>> 16) & 255, ((s.base + 1) >>> 8) & 255, (s.base + 1) & 255].join('.');
  return { name, id: name, bridge: `br-${name}`, subnet, gateway: gw, internal: false, mtu: 1500, created: '', attachments: Object.fromEntries(attachments.map((a) => [a.containerId, a])), ...extra };
}

test('subnets: parse, reject host bits and bad prefixes, overlap', () => {
  assert.equal(formatSubnet(parseSubnet('10.213.1.0/24')), '10.213.1.0/24');
  assert.throws(() => parseSubnet('10.213.1.5/24'), /host bits set \(did you mean 10\.213\.1\.0\/24\?\)/);
  assert.throws(() => parseSubnet('10.213.1.0/31'), /invalid subnet/);
  assert.throws(() => parseIp('10.0.0.256'), /invalid IPv4 address/);
  assert.ok(overlaps(parseSubnet('10.88.0.0/16'), parseSubnet('10.88.3.0/24')));
  assert.ok(!overlaps(parseSubnet('172.30.0.0/16'), parseSubnet('172.31.0.0/16')));
});

test('IPAM: first free host address after the gateway, a requested one, full and taken', () => {
  const n = net('n', '10.213.1.0/29', [att('a', '10.213.1.2'), att('c', '10.213.1.4')]);
  assert.equal(allocateIp(n), '10.213.1.3');
  assert.equal(allocateIp(n, '10.213.1.6'), '10.213.1.6');
  assert.throws(() => allocateIp(n, '10.213.1.4'), (e: Error & { code?: string }) => e.code === 'ERR_IP_IN_USE' && /by container `c`/.test(e.message));
  assert.throws(() => allocateIp(n, '10.213.1.1'), /in use by the gateway/);
  assert.throws(() => allocateIp(n, '10.213.1.7'), /not a host address/); // broadcast
  const full = net('f', '10.213.1.0/30', [att('a', '10.213.1.2')]);
  assert.throws(() => allocateIp(full), (e: Error & { code?: string }) => e.code === 'ERR_NETWORK_FULL');
  assert.equal(macForIp('10.213.1.2'), '02:42:0a:d5:01:02');
});

test('publish specs: docker forms, bad input named', () => {
  assert.deepEqual(parsePublish('8080:80'), { hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' });
  assert.deepEqual(parsePublish('127.0.0.1:53:53/udp'), { hostIp: '127.0.0.1', hostPort: 53, containerPort: 53, protocol: 'udp' });
  assert.throws(() => parsePublish('80'), /invalid publish spec `80`/);
  assert.throws(() => parsePublish('70000:80'), /invalid port `70000`/);
  assert.throws(() => parsePublish('1:2/sctp'), /invalid protocol/);
  assert.equal(formatPort(parsePublish('8080:80')), '80/tcp -> 0.0.0.0:8080');
});

test('nft table: replaced atomically, masquerade, ports, isolation, internal; deleted with the last network', () => {
  assert.equal(tableName(undefined), 'kapsel');
  assert.equal(tableName('abcd1234'), 'kapsel_abcd1234');
  const text = planNftTable('kapsel', [
    net('web', '10.213.1.0/24', [att('a', '10.213.1.2', { ports: [{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }, { hostIp: '', hostPort: 53, containerPort: 5353, protocol: 'udp' }] })]),
    net('db', '10.213.2.0/24', [], { internal: true }),
  ]);
  assert.ok(text.startsWith('add table ip kapsel\ndelete table ip kapsel\ntable ip kapsel {\n'));
  for (const line of [
    'elements = { "br-web", "br-db" }',
    'ip daddr 127.0.0.1 tcp dport 8080 dnat to 10.213.1.2:80 comment "web a"',
    'udp dport 53 dnat to 10.213.1.2:5353 comment "web a"',
    'type nat hook output priority -100; policy accept;',
    'fib daddr type local jump ports',
    'ip saddr 127.0.0.0/8 oifname "br-web" masquerade',
    'ip saddr 10.213.1.0/24 oifname != "br-web" masquerade',
    'ip saddr 10.213.1.0/24 oifname "br-web" ct status dnat masquerade',
    'iifname "br-db" oifname != "br-db" drop',
    'oifname "br-db" iifname != "br-db" drop',
    'ct status dnat accept',
    'iifname "br-web" oifname @bridges oifname != "br-web" drop',
  ]) assert.ok(text.includes(line), `missing: ${line}\n${text}`);
  assert.ok(!text.includes('10.213.2.0/24 oifname'), 'no masquerade for an internal network');
  assert.equal(planNftTable('kapsel', []), 'add table ip kapsel\ndelete table ip kapsel\n');
});

test('hosts file: own addresses and every peer of every shared network, once', () => {
  const a = att('aaaaaaaaaaaaaaaa', '10.213.1.2', { hostname: 'web', aliases: ['www'] });
  const b = att('b', '10.213.1.3', { hostname: 'db' });
  const b2 = att('b', '10.213.2.3', { hostname: 'db' });
  const text = hostsFor('b', [net('one', '10.213.1.0/24', [a, b]), net('two', '10.213.2.0/24', [b2]), net('other', '10.213.3.0/24', [att('x', '10.213.3.2')])]);
  assert.equal(text, '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.213.1.3\tdb\n10.213.2.3\tdb\n10.213.1.2\tweb www aaaaaaaaaaaa\n');
  assert.equal(hostsFor('nobody', []), undefined);
});

test('resolv.conf: loopback nameservers dropped, search kept, public fallback', () => {
  assert.equal(resolvConf('nameserver 127.0.0.53\noptions edns0\nsearch example.org\n'), 'options edns0\nsearch example.org\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  assert.equal(resolvConf('# c\nnameserver 192.0.2.53\n'), 'nameserver 192.0.2.53\n');
});

test('subnet choice: the first candidate free of host routes and networks; a requested one must be free', async () => {
  const { chooseSubnet } = await import('./subnet.js');
  const route = (dst: string, dstLen: number, table = 254) => ({ family: 2, table, dst, dstLen, oif: 1, gateway: undefined });
  const routes = [route('0.0.0.0', 0), route('172.30.5.0', 24), route('192.0.2.0', 24), route('127.0.0.0', 8, 255)];
  assert.equal(formatSubnet(chooseSubnet(undefined, routes, [])), '172.31.0.0/16');
  assert.equal(formatSubnet(chooseSubnet(undefined, routes, [net('a', '172.31.0.0/16')])), '10.210.0.0/24');
  assert.equal(formatSubnet(chooseSubnet(undefined, [route('0.0.0.0', 0)], [])), '172.30.0.0/16', 'the default route takes nothing');
  assert.throws(() => chooseSubnet('172.30.0.0/16', routes, []), /overlaps host route 172\.30\.5\.0\/24/);
  assert.throws(() => chooseSubnet('10.213.1.0/25', [], [net('web', '10.213.1.0/24')]), /overlaps network `web`/);
  assert.equal(formatSubnet(chooseSubnet('127.1.0.0/16', routes, [])), '127.1.0.0/16', 'the local table is not the main table');
});

test('host listeners from /proc/net: TCP LISTEN only, any bound UDP socket', async () => {
  const { parseProcNet } = await import('./host-ports.js');
  const tcp = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n' +
    '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n' +
    '   1: 0200000A:D431 0100000A:0050 01 00000000:00000000 00:00000000 00000000     0        0 2 1\n';
  assert.deepEqual(parseProcNet(tcp, 'tcp'), [{ protocol: 'tcp', port: 8080 }]);
  const udp = '  sl  local_address rem_address   st\n  5: 00000000:0035 00000000:0000 07 0\n';
  assert.deepEqual(parseProcNet(udp, 'udp'), [{ protocol: 'udp', port: 53 }]);
});

test('container files: hosts and resolv.conf written, bind mounts read-only; docker NetworkSettings from the records', async () => {
  const { prepareNetworkFiles, networkSettings } = await import('./container-files.js');
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'kapsel-netfiles-'));
  try {
    const f = prepareNetworkFiles(dir, 'web', 'nameserver 127.0.0.53\n');
    assert.equal(readFileSync(f.hostsPath, 'utf8'), '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n');
    assert.equal(readFileSync(f.resolvConfPath, 'utf8'), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
    assert.deepEqual(f.mounts.map((m) => [m.destination, m.source, m.options?.includes('ro')]), [['/etc/hosts', f.hostsPath, true], ['/etc/resolv.conf', f.resolvConfPath, true]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const a = att('c1', '10.213.1.2', { ports: [{ hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' }], aliases: ['w'] });
  const s = networkSettings('c1', [net('web', '10.213.1.0/24', [a]), net('db', '10.213.2.0/24', [att('c1', '10.213.2.5')])]);
  assert.equal(s.IPAddress, '10.213.1.2');
  assert.equal(s.Gateway, '10.213.1.1');
  assert.deepEqual(Object.keys(s.Networks), ['web', 'db']);
  assert.equal(s.Networks['db']?.IPPrefixLen, 24);
  assert.deepEqual(s.Ports, { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }] });
  assert.deepEqual(networkSettings('none', []).Networks, {});
});
