/**
 * The engine's order with the real runtime: `kapsel-runtime create` (new network namespace, lo
 * up), `kapsel network connect` on /proc/<init>/ns/net, `start`; the container's httpd is then
 * reachable on its address and through a published port, and /etc/hosts written by kapsel is
 * what the container reads. After `delete` nothing of the network is left.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, bundleFactory, runtime } from './helpers.js';

const KAPSEL = join(REPO, 'bin', 'kapsel');
const { bundle, cleanupAll } = bundleFactory();
const tag = Math.random().toString(36).slice(2, 6);
const store = mkdtempSync(join(tmpdir(), 'kt-net-bundle-'));
const state = mkdtempSync(join(tmpdir(), 'kt-net-state-'));
const env = { ...process.env, KAPSEL_STORE: store, KAPSEL_STATE: state };
const NET = `ktb${tag}`;
const third = 200 + Math.floor(Math.random() * 50);
const forwardBefore = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();

function kapsel(args: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(KAPSEL, args, { env, timeout: 60_000 });
  return { status: r.status, out: r.stdout.toString(), err: r.stderr.toString() };
}

after(() => {
  kapsel(['network', 'prune-stale']);
  const left = kapsel(['network', 'ls', '-q']).out.split('\n').filter((n) => n !== '');
  if (left.length > 0) kapsel(['network', 'rm', ...left]); // NET, and the default network if a failed test made one
  for (const id of kapsel(['ps', '-aq']).out.split('\n').filter((l) => l !== '')) kapsel(['rm', '-f', id]);
  cleanupAll();
  rmSync(store, { recursive: true, force: true });
  rmSync(state, { recursive: true, force: true });
  assert.ok(!execFileSync('ip', ['-o', 'link']).toString().includes(`kt-${tag}`), 'bridge removed');
  assert.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), forwardBefore);
});

test('create, connect, start: the container serves on its address and a published port; delete leaves nothing', async () => {
  assert.equal(kapsel(['network', 'create', '--subnet', `10.213.${third}.0/24`, '--bridge', `kt-${tag}`, NET]).status, 0);
  const hosts = join(store, 'hosts');
  writeFileSync(hosts, '');
  const b = bundle(['httpd', '-f', '-p', '80', '-h', '/www'], (spec) => {
    spec.mounts!.push({ destination: '/etc/hosts', type: 'bind', source: hosts, options: ['rbind', 'ro'] });
  });
  execFileSync('mkdir', ['-p', join(b.rootfs, 'www')]);
  writeFileSync(join(b.rootfs, 'www', 'index.html'), 'from the container\n');
  const id = `kt-net-${tag}`;
  assert.equal(runtime(b, ['create', '--bundle', b.dir, id]).status, 0);
  try {
    const pid = (JSON.parse(runtime(b, ['state', id]).stdout) as { pid: number }).pid;
    const port = 20000 + Math.floor(Math.random() * 20000);
    const c = kapsel(['network', 'connect', '--netns', `/proc/${pid}/ns/net`, '-p', `${port}:80`, '--hostname', 'web', '--hosts-file', hosts, NET, id]);
    assert.equal(c.status, 0, c.err);
    const ip = (JSON.parse(c.out) as { ip: string }).ip;
    assert.equal(runtime(b, ['start', id]).status, 0);
    for (const url of [`http://${ip}/`, `http://127.0.0.1:${port}/`]) {
      let body = '';
      for (let i = 0; i < 50 && body === ''; i++) {
        body = await fetch(url).then((r) => r.text(), () => '');
        if (body === '') await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(body, 'from the container\n', url);
    }
    // the hosts file kapsel keeps is the one the container reads
    const seen = runtime(b, ['exec', id, 'cat', '/etc/hosts']).stdout;
    assert.match(seen, new RegExp(`${ip.replace(/\./g, '\\.')}\\tweb`));
    const att = (JSON.parse(kapsel(['network', 'inspect', NET]).out) as { attachments: Record<string, { ports: unknown[] }> }[])[0]?.attachments[id];
    assert.deepEqual(att?.ports, [{ hostIp: '', hostPort: port, containerPort: 80, protocol: 'tcp' }]);
  } finally {
    runtime(b, ['delete', '--force', id]);
  }
  // the container is gone: the next network command cleans its attachment, veth and rule
  assert.equal(kapsel(['network', 'prune-stale']).out, `${NET}/${id}\n`);
  const inspect = JSON.parse(kapsel(['network', 'inspect', NET]).out) as { attachments: object }[];
  assert.deepEqual(inspect[0]?.attachments, {});
  assert.equal(execFileSync('ip', ['-o', 'link', 'show', 'master', `kt-${tag}`]).toString(), '');
});

test('bad input: clear errors, non-zero exit, nothing created', () => {
  const links = (): string[] => execFileSync('ip', ['-o', 'link']).toString().split('\n').map((l) => l.split(': ')[1] ?? '').sort();
  const before = links();
  const cases: [string[], RegExp][] = [
    [['network', 'create', '--subnet', '10.213.1.0/33', `kt-bad-${tag}`], /invalid subnet `10\.213\.1\.0\/33`/],
    [['network', 'create', '--subnet', '10.213.1.0/24', '--gateway', '10.9.9.9', `kt-bad-${tag}`], /gateway 10\.9\.9\.9 is not a host address/],
    [['network', 'create', 'bridge'], /reserved/],
    [['network', 'rm', `kt-nosuch-${tag}`], /network `kt-nosuch-\w+` does not exist/],
    [['network', 'connect', '--netns', '/proc/self/ns/net', '-p', '99999:80', `kt-nosuch-${tag}`, 'x'], /invalid port `99999`/],
    [['network', 'connect', '--netns', '/nonexistent', 'bridge', 'x'], /does not exist/],
    [['network', 'disconnect', `kt-nosuch-${tag}`, 'x'], /does not exist/],
  ];
  for (const [args, message] of cases) {
    const r = kapsel(args);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.err, message, args.join(' '));
  }
  assert.deepEqual(links(), before);
  assert.deepEqual(kapsel(['network', 'ls', '-q']).out, `${NET}\n`, 'no network created (not even the default one)');
});

test('kapsel run --network NAME -p: served on 127.0.0.1, found by name from another container, kapsel port and inspect; rm -f leaves nothing', async () => {
  if (!kapsel(['network', 'ls', '-q']).out.includes(NET)) {
    assert.equal(kapsel(['network', 'create', '--subnet', `10.213.${third}.0/24`, '--bridge', `kt-${tag}`, NET]).status, 0);
  }
  const port = 20000 + Math.floor(Math.random() * 20000);
  const ip = `10.213.${third}.99`;
  const run = kapsel(['run', '-d', '--name', `web-${tag}`, '--network', NET, '--ip', ip, '-p', `127.0.0.1:${port}:80`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc']);
  assert.equal(run.status, 0, run.err);
  let body = '';
  for (let i = 0; i < 50 && body === ''; i++) {
    body = await fetch(`http://127.0.0.1:${port}/hosts`).then((r) => r.text(), () => '');
    if (body === '') await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(body, new RegExp(`${ip.replace(/\./g, '\\.')}\t`), 'the container serves its own /etc/hosts, which kapsel wrote');
  assert.equal(kapsel(['port', `web-${tag}`]).out, `80/tcp -> 127.0.0.1:${port}\n`);
  const inspect = JSON.parse(kapsel(['inspect', `web-${tag}`]).out) as { NetworkSettings: { IPAddress: string; Networks: Record<string, unknown> } }[];
  assert.equal(inspect[0]?.NetworkSettings.IPAddress, ip);
  assert.deepEqual(Object.keys(inspect[0]?.NetworkSettings.Networks ?? {}), [NET]);
  // a second container on the network finds the first by its name
  const peer = kapsel(['run', '--rm', '--network', NET, 'busybox', 'wget', '-q', '-O', '-', `http://web-${tag}/hosts`]);
  assert.equal(peer.status, 0, peer.err);
  assert.match(peer.out, /localhost/);
  // -p without a bridge network: refused before anything is made
  const bad = kapsel(['run', '--rm', '--network', 'none', '-p', '1:1', 'busybox', 'true']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.err, /-p\/--publish needs a bridge network/);

  assert.equal(kapsel(['rm', '-f', `web-${tag}`]).status, 0);
  const rec = JSON.parse(kapsel(['network', 'inspect', NET]).out) as { attachments: object }[];
  assert.deepEqual(rec[0]?.attachments, {});
  assert.equal(execFileSync('ip', ['-o', 'link', 'show', 'master', `kt-${tag}`]).toString(), '');
  assert.equal(await fetch(`http://127.0.0.1:${port}/hosts`, { signal: AbortSignal.timeout(2000) }).then(() => 'reached', () => 'refused'), 'refused');
});

test('kapsel run with no --network gets the default bridge, which goes with its last container; container:REF shares a namespace', async () => {
  // the default: eth0 on the store's default network (kapsel0) with a default route
  const d = kapsel(['run', '-d', '--name', `def-${tag}`, 'busybox', 'sleep', '1000']);
  assert.equal(d.status, 0, d.err);
  let bridge = '';
  try {
    const net = JSON.parse(kapsel(['network', 'inspect', 'kapsel0']).out) as { bridge: string }[];
    bridge = net[0]!.bridge;
    const inside = kapsel(['exec', `def-${tag}`, 'sh', '-c', 'ip -o -4 addr show eth0; ip route']);
    assert.equal(inside.status, 0, inside.err);
    assert.match(inside.out, /eth0\s+inet \d+\.\d+\.\d+\.\d+\/\d+/);
    assert.match(inside.out, /^default via /m);
    assert.equal(spawnSync('ip', ['link', 'show', bridge]).status, 0, 'the bridge exists while the container runs');
  } finally {
    assert.equal(kapsel(['rm', '-f', `def-${tag}`]).status, 0);
  }
  assert.equal(kapsel(['network', 'ls', '-q']).out.includes('kapsel0'), false, 'the default network went with its last container');
  assert.notEqual(spawnSync('ip', ['link', 'show', bridge]).status, 0, `its bridge ${bridge} is gone`);
  // container:REF: a server on the target's loopback is reached from the joining container
  const srv = kapsel(['run', '-d', '--name', `tgt-${tag}`, '--network', 'none', '--hostname', `tgt-${tag}`, 'busybox', 'sh', '-c', 'mkdir /w && hostname > /w/name && exec httpd -f -p 127.0.0.1:8081 -h /w']);
  assert.equal(srv.status, 0, srv.err);
  try {
    let got = { status: 1 as number | null, out: '', err: '' };
    for (let i = 0; i < 30 && got.status !== 0; i++) {
      got = kapsel(['run', '--rm', '--network', `container:tgt-${tag}`, 'busybox', 'wget', '-q', '-O', '-', 'http://127.0.0.1:8081/name']);
      if (got.status !== 0) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(got.status, 0, got.err);
    assert.equal(got.out, `tgt-${tag}\n`);
    const missing = kapsel(['run', '--rm', '--network', 'container:no-such-ctr', 'busybox', 'true']);
    assert.equal(missing.status, 125);
    assert.match(missing.err, /container `no-such-ctr` does not exist/);
  } finally {
    assert.equal(kapsel(['rm', '-f', `tgt-${tag}`]).status, 0);
  }
});
