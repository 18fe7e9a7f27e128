/**
 * Bridge networks against the real kernel (root). The "containers" are processes the test starts
 * in new network (and mount) namespaces with unshare(1); the test holds their pids and runs
 * busybox nc/httpd/wget inside with nsenter(1). The "remote" host for outbound NAT is another
 * namespace joined to the host by a veth pair with test addresses. Bridges are kt-*, subnets
 * 10.213.x.0/24, the store a temp dir (so its nft table is `kapsel_<hash>`, not `kapsel`).
 * ip_forward is compared before and after; nothing may remain: no link, table, record.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { linuxSyscalls } from '../sys/linux-syscalls.js';
import { runNft } from '../sys/libnftables.js';
import { NetworkManager } from './manager.js';
import { formatPort } from './ports.js';

const KAPSEL = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'kapsel');
const tag = Math.random().toString(36).slice(2, 6);
const third = 100 + Math.floor(Math.random() * 90); // 10.213.<third..third+2>.0/24
const root = mkdtempSync(join(tmpdir(), 'kt-net-'));
const store = join(root, 'store');
const mgr = new NetworkManager({ sys: linuxSyscalls(), nft: runNft, storeRoot: store });
const NET1 = { name: `kt1${tag}`, bridge: `kt-${tag}-1`, subnet: `10.213.${third}.0/24` };
const NET2 = { name: `kt2${tag}`, bridge: `kt-${tag}-2`, subnet: `10.213.${third + 1}.0/24` };
const REMOTE = { hostIf: `kt-${tag}-h`, remoteIf: `kt-${tag}-r`, netns: `kt-${tag}-remote`, hostIp: `10.213.${third + 2}.1`, remoteIp: `10.213.${third + 2}.2` };
let forwardBefore = '';
let rulesetBefore = '';
const children: ChildProcess[] = [];
const boxesToStop: Box[] = [];
const attachedIds = new Set<string>();

/** mgr.attach, remembered so afterEach detaches it even when the test fails half-way. */
function attach(req: Parameters<NetworkManager['attach']>[0]): ReturnType<NetworkManager['attach']> {
  attachedIds.add(req.containerId);
  return mgr.attach(req);
}

interface Box {
  readonly id: string;
  readonly pid: number;
  readonly netns: string;
  readonly hosts: string;
  readonly proc: ChildProcess;
}

async function box(id: string): Promise<Box> {
  const hosts = join(root, `${id}.hosts`);
  writeFileSync(hosts, '127.0.0.1\tlocalhost\n');
  const proc = spawn('unshare', ['-n', '-m', '--propagation', 'private', 'sh', '-c', `mount --bind ${hosts} /etc/hosts && exec sleep 100000`], { stdio: 'ignore' });
  children.push(proc);
  const pid = proc.pid!;
  boxesToStop.push({ id, pid, netns: `/proc/${pid}/ns/net`, hosts, proc });
  for (let i = 0; i < 100; i++) {
    const mounted = spawnSync('nsenter', ['-t', String(pid), '-m', 'cat', '/etc/hosts']).stdout?.toString() ?? '';
    if (readlinkNs(pid) !== readlinkNs(process.pid) && mounted.includes('localhost') && /sleep/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return { id, pid, netns: `/proc/${pid}/ns/net`, hosts, proc };
}

function readlinkNs(pid: number): string {
  try {
    return execFileSync('readlink', [`/proc/${pid}/ns/net`]).toString().trim();
  } catch {
    return '';
  }
}

async function stop(b: Box): Promise<void> {
  if (b.proc.exitCode !== null || b.proc.signalCode !== null) return;
  const done = new Promise((r) => b.proc.once('exit', r));
  b.proc.kill('SIGKILL');
  await done;
}

/** Runs busybox in the box's namespaces (net and mount: its /etc/hosts). */
function inBox(b: Box, args: string[], input?: string): { status: number | null; out: string } {
  const r = spawnSync('nsenter', ['-t', String(b.pid), '-n', '-m', 'busybox', ...args], { input: input ?? '', timeout: 15000 });
  return { status: r.status, out: `${r.stdout?.toString() ?? ''}${r.stderr?.toString() ?? ''}` };
}

/** A server in the box (busybox nc/httpd), killed in after(). */
function serveIn(b: Box, args: string[]): { proc: ChildProcess; output: () => string } {
  return serveWith(b, ['busybox', ...args]);
}

function serveWith(b: Box, args: string[]): { proc: ChildProcess; output: () => string } {
  let out = '';
  const proc = spawn('nsenter', ['-t', String(b.pid), '-n', '-m', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  children.push(proc);
  return { proc, output: () => out };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function eventually(what: string, fn: () => boolean | Promise<boolean>, tries = 50): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await fn()) return;
    await sleep(100);
  }
  assert.fail(`timed out waiting for ${what}`);
}

function hostLinks(): string[] {
  return execFileSync('ip', ['-o', 'link']).toString().split('\n').map((l) => l.split(': ')[1]?.split('@')[0] ?? '').filter((n) => n !== '');
}

function ourLinks(): string[] {
  const attached = new Set(mgr.list().flatMap((n) => Object.values(n.attachments).map((a) => a.hostVeth)));
  return hostLinks().filter((n) => n.startsWith(`kt-${tag}`) || attached.has(n));
}

function nftTables(): string {
  return execFileSync('nft', ['list', 'tables']).toString();
}

before(() => {
  forwardBefore = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  rulesetBefore = execFileSync('nft', ['list', 'ruleset']).toString();
  mgr.create({ ...NET1 });
  mgr.create({ ...NET2 });
  // the remote host: a namespace joined to the host by a veth pair, addresses only the test uses
  execFileSync('ip', ['netns', 'add', REMOTE.netns]);
  execFileSync('ip', ['link', 'add', REMOTE.hostIf, 'type', 'veth', 'peer', 'name', REMOTE.remoteIf, 'netns', REMOTE.netns]);
  execFileSync('ip', ['addr', 'add', `${REMOTE.hostIp}/30`, 'dev', REMOTE.hostIf]);
  execFileSync('ip', ['link', 'set', REMOTE.hostIf, 'up']);
  execFileSync('ip', ['-n', REMOTE.netns, 'addr', 'add', `${REMOTE.remoteIp}/30`, 'dev', REMOTE.remoteIf]);
  execFileSync('ip', ['-n', REMOTE.netns, 'link', 'set', REMOTE.remoteIf, 'up']);
  execFileSync('ip', ['-n', REMOTE.netns, 'link', 'set', 'lo', 'up']);
});

afterEach(async () => {
  for (const id of attachedIds) {
    try {
      mgr.detach(id);
    } catch {
      // detached by the test already
    }
  }
  attachedIds.clear();
  for (const b of boxesToStop.splice(0)) await stop(b);
});

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await sleep(200);
  try {
    mgr.cleanStale();
    for (const n of mgr.list()) mgr.remove(n.name);
  } finally {
    spawnSync('ip', ['link', 'del', REMOTE.hostIf]);
    spawnSync('ip', ['netns', 'del', REMOTE.netns]);
    rmSync(root, { recursive: true, force: true });
  }
  // nothing left: links, our nft table, ip_forward, the host's other rules untouched
  assert.deepEqual(hostLinks().filter((n) => n.startsWith(`kt-${tag}`)), []);
  assert.ok(!nftTables().includes(mgr.table), `nft table ${mgr.table} removed`);
  assert.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), forwardBefore, 'ip_forward restored');
  assert.equal(execFileSync('nft', ['list', 'ruleset']).toString(), rulesetBefore, 'the host ruleset is as before');
});

test('two containers on one bridge talk TCP and UDP; the attach result matches the namespace', async () => {
  const a = await box('a');
  const b = await box('b');
  const ra = attach({ network: NET1.name, containerId: 'a', netnsPath: a.netns, hostsPath: a.hosts });
  const rb = attach({ network: NET1.name, containerId: 'b', netnsPath: b.netns, hostsPath: b.hosts });
  assert.equal(ra.ifname, 'eth0');
  assert.notEqual(ra.ip, rb.ip);
  const addr = inBox(a, ['ip', '-o', '-4', 'addr', 'show', 'eth0']).out;
  assert.match(addr, new RegExp(`inet ${ra.ip.replace(/\./g, '\\.')}/24`));
  assert.match(inBox(a, ['ip', 'route']).out, new RegExp(`default via ${ra.gateway.replace(/\./g, '\\.')}`));
  assert.match(inBox(a, ['ip', 'link', 'show', 'eth0']).out, new RegExp(ra.mac));

  const tcp = serveIn(a, ['nc', '-l', '-p', '5000']);
  await eventually('tcp server', () => inBox(a, ['netstat', '-ltn']).out.includes(':5000'));
  assert.equal(inBox(b, ['nc', '-w', '2', ra.ip, '5000'], 'hello over tcp\n').status, 0);
  await eventually('tcp data', () => tcp.output().includes('hello over tcp'));

  // Debian's busybox nc has no UDP mode: socat (host binary, run in the box's namespaces)
  const udp = serveWith(a, ['socat', '-u', 'UDP-RECV:5001', 'STDOUT']);
  await eventually('udp server', () => inBox(a, ['netstat', '-lnu']).out.includes(':5001'));
  const sent = spawnSync('nsenter', ['-t', String(b.pid), '-n', 'socat', '-', `UDP:${ra.ip}:5001`], { input: 'hello over udp\n', timeout: 5000 });
  assert.equal(sent.status, 0, sent.stderr?.toString());
  await eventually('udp data', () => udp.output().includes('hello over udp'));

  // names: each container's hosts file lists the other, and it resolves
  assert.match(readFileSync(b.hosts, 'utf8'), new RegExp(`${ra.ip.replace(/\./g, '\\.')}\\ta`));
  const web = join(root, 'www-a');
  mkdirSync(web, { recursive: true });
  writeFileSync(join(web, 'index.html'), 'served by a\n');
  serveIn(a, ['httpd', '-f', '-p', '80', '-h', web]);
  await eventually('httpd in a', () => inBox(a, ['netstat', '-ltn']).out.includes(':80 '));
  assert.equal(inBox(b, ['wget', '-q', '-O', '-', 'http://a/']).out, 'served by a\n');

  mgr.detach('a');
  mgr.detach('b');
  // after detach the namespace has only lo, and the host no veth of theirs
  assert.deepEqual(inBox(a, ['ip', '-o', 'link']).out.trim().split('\n').map((l) => l.split(': ')[1]), ['lo']);
  assert.ok(!hostLinks().includes(ra.hostVeth) && !hostLinks().includes(rb.hostVeth));
  assert.deepEqual(mgr.inspect(NET1.name).attachments, {});
  assert.doesNotMatch(readFileSync(b.hosts, 'utf8'), /\ta\b/);
  await stop(a);
  await stop(b);
});

test('a container on another network cannot reach them until it is connected', async () => {
  const a = await box('iso-a');
  const c = await box('iso-c');
  const ra = attach({ network: NET1.name, containerId: 'iso-a', netnsPath: a.netns });
  attach({ network: NET2.name, containerId: 'iso-c', netnsPath: c.netns });
  serveIn(a, ['nc', '-ll', '-p', '5002', '-e', '/bin/echo', 'pong']);
  await eventually('server', () => inBox(a, ['netstat', '-ltn']).out.includes(':5002'));
  const blocked = inBox(c, ['nc', '-w', '2', ra.ip, '5002']);
  assert.ok(!blocked.out.includes('pong'), `reached across networks: ${blocked.out}`);
  const rc = attach({ network: NET1.name, containerId: 'iso-c', netnsPath: c.netns });
  assert.equal(rc.ifname, 'eth1');
  assert.match(inBox(c, ['nc', '-w', '2', ra.ip, '5002']).out, /pong/);
  mgr.detach('iso-c', NET1.name);
  assert.ok(!inBox(c, ['nc', '-w', '2', ra.ip, '5002']).out.includes('pong'));
  mgr.detach('iso-c');
  mgr.detach('iso-a');
  await stop(a);
  await stop(c);
});

test('a published port serves httpd to the host on 127.0.0.1, on the bridge address and by hairpin; the records list it', async () => {
  const a = await box('pub');
  const hostPort = 20000 + Math.floor(Math.random() * 20000);
  const ra = attach({ network: NET1.name, containerId: 'pub', netnsPath: a.netns, ports: [{ hostIp: '', hostPort, containerPort: 80, protocol: 'tcp' }] });
  const web = join(root, 'www-pub');
  mkdirSync(web, { recursive: true });
  writeFileSync(join(web, 'index.html'), 'published\n');
  serveIn(a, ['httpd', '-f', '-p', '80', '-h', web]);
  await eventually('httpd', () => inBox(a, ['netstat', '-ltn']).out.includes(':80 '));
  for (const host of ['127.0.0.1', ra.gateway]) {
    const res = await fetch(`http://${host}:${hostPort}/`);
    assert.equal(await res.text(), 'published\n', `via ${host}`);
  }
  // hairpin: the container itself and a peer on its network, through the bridge address
  const peer = await box('pub-peer');
  attach({ network: NET1.name, containerId: 'pub-peer', netnsPath: peer.netns });
  // (busybox 1.35's `wget -T` crashes; the runner's timeout bounds these)
  for (const b of [a, peer]) assert.equal(inBox(b, ['wget', '-q', '-O', '-', `http://${ra.gateway}:${hostPort}/`]).out, 'published\n', `hairpin from ${b.id}`);
  // the same host port again, or one a host process listens on: refused, nothing recorded
  const other = await box('pub2');
  assert.throws(() => attach({ network: NET2.name, containerId: 'pub2', netnsPath: other.netns, ports: [{ hostIp: '', hostPort, containerPort: 81, protocol: 'tcp' }] }), /already published by container `pub`/);
  const listener = createServer();
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const busy = (listener.address() as AddressInfo).port;
  try {
    assert.throws(() => attach({ network: NET2.name, containerId: 'pub2', netnsPath: other.netns, ports: [{ hostIp: '', hostPort: busy, containerPort: 80, protocol: 'tcp' }] }), new RegExp(`host port ${busy}/tcp is in use by a process on the host`));
  } finally {
    listener.close();
  }
  assert.equal(mgr.attachments('pub2').length, 0);
  assert.deepEqual(mgr.ports('pub').map(formatPort), [`80/tcp -> 0.0.0.0:${hostPort}`]);
  assert.match(execFileSync('nft', ['list', 'table', 'ip', mgr.table]).toString(), new RegExp(`dport ${hostPort} dnat to ${ra.ip}:80`));
  mgr.detach('pub');
  assert.doesNotMatch(execFileSync('nft', ['list', 'table', 'ip', mgr.table]).toString(), new RegExp(`dport ${hostPort}`));
  await assert.rejects(fetch(`http://127.0.0.1:${hostPort}/`, { signal: AbortSignal.timeout(3000) }));
  await stop(a);
});

test('outbound traffic is masqueraded: the remote host sees the host address, not the container', async () => {
  const a = await box('nat');
  attach({ network: NET1.name, containerId: 'nat', netnsPath: a.netns });
  const cgi = join(root, 'www-remote', 'cgi-bin');
  mkdirSync(cgi, { recursive: true });
  writeFileSync(join(cgi, 'ip'), '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s\\n" "$REMOTE_ADDR"\n');
  chmodSync(join(cgi, 'ip'), 0o755);
  const server = spawn('ip', ['netns', 'exec', REMOTE.netns, 'busybox', 'httpd', '-f', '-p', '8000', '-h', dirname(cgi)], { stdio: 'ignore' });
  children.push(server);
  await eventually('remote httpd', () => (spawnSync('ip', ['netns', 'exec', REMOTE.netns, 'busybox', 'netstat', '-ltn']).stdout?.toString() ?? '').includes(':8000'));
  const seen = inBox(a, ['wget', '-q', '-O', '-', `http://${REMOTE.remoteIp}:8000/cgi-bin/ip`]);
  assert.equal(seen.out.trim().replace(/^\[::ffff:(.*)\]$/, '$1'), REMOTE.hostIp, 'REMOTE_ADDR seen by the remote host');
  server.kill('SIGKILL');
  mgr.detach('nat');
  await stop(a);
});

test('an internal network has no way out and refuses published ports', async () => {
  const name = `kti${tag}`;
  mgr.create({ name, bridge: `kt-${tag}-i`, subnet: `10.213.${third + 3}.0/24`, internal: true });
  const a = await box('int');
  const r = attach({ network: name, containerId: 'int', netnsPath: a.netns, ports: [{ hostIp: '', hostPort: 1, containerPort: 1, protocol: 'tcp' }] });
  assert.deepEqual(r.ports, []);
  assert.doesNotMatch(inBox(a, ['ip', 'route']).out, /default/);
  // even with a default route added by hand, the forward rule keeps it in
  inBox(a, ['ip', 'route', 'add', 'default', 'via', r.gateway]);
  const server = spawn('ip', ['netns', 'exec', REMOTE.netns, 'busybox', 'nc', '-ll', '-p', '8001', '-e', '/bin/echo', 'pong'], { stdio: 'ignore' });
  children.push(server);
  await eventually('remote server', () => (spawnSync('ip', ['netns', 'exec', REMOTE.netns, 'busybox', 'netstat', '-ltn']).stdout?.toString() ?? '').includes(':8001'));
  assert.doesNotMatch(inBox(a, ['nc', '-w', '2', REMOTE.remoteIp, '8001']).out, /pong/);
  // the same from a container on a non-internal network gets through: the drop is the internal rule
  const open = await box('int-open');
  attach({ network: NET1.name, containerId: 'int-open', netnsPath: open.netns });
  assert.match(inBox(open, ['nc', '-w', '2', REMOTE.remoteIp, '8001']).out, /pong/);
  server.kill('SIGKILL');
  await stop(a);
  mgr.remove(name); // the dead container's attachment is stale and goes first
  assert.ok(!hostLinks().includes(`kt-${tag}-i`));
});

test('--ip takes the requested address; a taken one and one outside the subnet are refused, the namespace keeps only lo (as --network none)', async () => {
  const a = await box('ipa');
  const b = await box('ipb');
  const want = `10.213.${third}.77`;
  assert.equal(attach({ network: NET1.name, containerId: 'ipa', netnsPath: a.netns, ip: want }).ip, want);
  assert.throws(() => attach({ network: NET1.name, containerId: 'ipb', netnsPath: b.netns, ip: want }), /in use by container `ipa`/);
  assert.throws(() => attach({ network: NET1.name, containerId: 'ipb', netnsPath: b.netns, ip: '10.9.9.9' }), /not a host address/);
  assert.deepEqual(Object.keys(mgr.inspect(NET1.name).attachments), ['ipa']);
  assert.deepEqual(inBox(b, ['ip', '-o', 'link']).out.trim().split('\n').map((l) => l.split(': ')[1]), ['lo']);
  mgr.detach('ipa');
  await stop(a);
  await stop(b);
});

test('kill -9 of the attaching CLI, then the container gone: the next attach cleans up everything', async (t) => {
  const victims: Box[] = [];
  for (let i = 0; i < 4; i++) victims.push(await box(`k9-${i}`));
  // kill the CLI at different points of its run: as soon as its record is on disk (before or
  // while it creates the veth), as soon as its veth exists (before addresses, route, nft), and
  // at two fixed delays (module loading, waiting for the lock)
  const sysfs = (id: string): string => `/sys/class/net/kv${createHash('sha256').update(`${mgr.store.dir}/${NET1.name}/${id}`).digest('hex').slice(0, 12)}`;
  const triggers: ((id: string) => boolean)[] = [
    (id) => readFileSync(join(mgr.store.dir, `${NET1.name}.json`), 'utf8').includes(`"${id}"`),
    (id) => existsSync(sysfs(id)),
    () => false,
    () => false,
  ];
  for (const [i, v] of victims.entries()) {
    const cli = spawn(KAPSEL, ['network', 'connect', '--netns', v.netns, '-p', `${30000 + i}:80`, NET1.name, v.id], { env: { ...process.env, KAPSEL_STORE: store }, stdio: 'ignore' });
    const deadline = Date.now() + (i < 2 ? 20_000 : 100 + 200 * i);
    while (Date.now() < deadline && cli.exitCode === null && !triggers[i]!(v.id)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    cli.kill('SIGKILL');
    await new Promise((r) => (cli.exitCode !== null || cli.signalCode !== null ? r(null) : cli.once('exit', r)));
  }
  // what the killed CLIs left (varies with timing: nothing, a record, a record and its veth)
  const records = Object.keys(mgr.inspect(NET1.name).attachments).filter((id) => id.startsWith('k9-'));
  const veths = execFileSync('ip', ['-o', 'link', 'show', 'master', NET1.bridge]).toString().split('\n').filter((l) => l !== '').length;
  t.diagnostic(`left by the killed CLIs: ${records.length} records (${records.join(' ')}), ${veths} veths in the bridge`);
  assert.ok(records.includes('k9-0') && records.includes('k9-1'), 'the CLIs killed after their record was written left it behind');
  for (const v of victims) await stop(v);
  const a = await box('k9-next');
  attach({ network: NET1.name, containerId: 'k9-next', netnsPath: a.netns });
  assert.deepEqual(Object.keys(mgr.inspect(NET1.name).attachments), ['k9-next']);
  assert.doesNotMatch(execFileSync('nft', ['list', 'table', 'ip', mgr.table]).toString(), /dport 3000\d/);
  const attachedVeth = mgr.inspect(NET1.name).attachments['k9-next']!.hostVeth;
  const inBridge = execFileSync('ip', ['-o', 'link', 'show', 'master', NET1.bridge]).toString().split('\n').filter((l) => l !== '').map((l) => l.split(': ')[1]!.split('@')[0]);
  assert.deepEqual(inBridge, [attachedVeth]);
  mgr.detach('k9-next');
  await stop(a);
});

test('50 parallel attaches through the CLI get 50 different addresses, each configured in its namespace', async () => {
  const boxes: Box[] = [];
  for (let i = 0; i < 50; i++) boxes.push(await box(`p${i}`));
  const results = await Promise.all(boxes.map((b) => new Promise<{ code: number | null; out: string }>((resolve) => {
    const cli = spawn(KAPSEL, ['network', 'connect', '--netns', b.netns, NET2.name, b.id], { env: { ...process.env, KAPSEL_STORE: store } });
    let out = '';
    cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
    cli.stderr.on('data', (d: Buffer) => (out += d.toString()));
    cli.on('exit', (code) => resolve({ code, out }));
  })));
  for (const r of results) assert.equal(r.code, 0, r.out);
  const ips = results.map((r) => (JSON.parse(r.out) as { ip: string }).ip);
  assert.equal(new Set(ips).size, 50, 'no duplicate address');
  const recorded = Object.values(mgr.inspect(NET2.name).attachments).map((a) => a.ip).sort();
  assert.deepEqual(recorded, [...ips].sort());
  for (const [i, b] of boxes.entries()) assert.match(inBox(b, ['ip', '-o', '-4', 'addr', 'show', 'eth0']).out, new RegExp(`inet ${ips[i]!.replace(/\./g, '\\.')}/`));
  // containers gone: one clean-up removes every record and veth
  for (const b of boxes) await stop(b);
  assert.equal(mgr.cleanStale().length, 50);
  assert.deepEqual(mgr.inspect(NET2.name).attachments, {});
  const left = execFileSync('ip', ['-o', 'link', 'show', 'master', NET2.bridge]).toString().trim();
  assert.equal(left, '');
});

test('create refuses an existing link, a clashing subnet and bad names, and leaves the host as it was', () => {
  const before = hostLinks();
  assert.throws(() => mgr.create({ name: `ktx${tag}`, bridge: 'lo', subnet: `10.213.${third + 4}.0/24` }), /link `lo` already exists/);
  assert.throws(() => mgr.create({ name: `ktx${tag}`, subnet: `10.213.${third}.128/25` }), new RegExp(`overlaps network \`${NET1.name}\``));
  assert.throws(() => mgr.create({ name: 'bad/name' }), /invalid network name/);
  assert.throws(() => mgr.create({ name: NET1.name, subnet: `10.213.${third + 4}.0/24` }), /already exists/);
  assert.deepEqual(hostLinks(), before);
  assert.ok(mgr.list().every((n) => n.name !== `ktx${tag}`));
  assert.match(execFileSync('ip', ['-o', 'addr', 'show', 'lo']).toString(), /127\.0\.0\.1/);
});

test('network rm removes bridge, table and records; ip_forward comes back', () => {
  for (const n of [NET1, NET2]) mgr.remove(n.name);
  assert.deepEqual(mgr.list(), []);
  assert.deepEqual(ourLinks().filter((n) => n !== REMOTE.hostIf), []);
  assert.ok(!nftTables().includes(mgr.table));
  assert.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), forwardBefore);
  assert.ok(!existsSync(join(store, 'networks', `${NET1.name}.json`)));
});
