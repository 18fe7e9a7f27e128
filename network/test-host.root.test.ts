/**
 * kapsel run inside a network namespace the test makes (`ip netns add`) that stands in for the
 * host, so the real host's firewall, routes and the name `kapsel0` are never touched:
 *  - kapsel's nft table next to iptables-nft rules (docker's and CNI's kind): the iptables rules
 *    are the same before and after a network is created and removed, nothing of kapsel's is left;
 *  - the default network, created on first use, picks a subnet free of that host's routes;
 *  - the ip_forward record and its lock file go with the last network (in a namespace and a
 *    private /run of their own).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const KAPSEL = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'kapsel');
const tag = Math.random().toString(36).slice(2, 6);
const NS = `kt-${tag}-ipt`;
const store = mkdtempSync(join(tmpdir(), 'kt-net-ipt-'));
const inNs = (cmd: string, args: string[]): string => execFileSync('ip', ['netns', 'exec', NS, cmd, ...args], { env: { ...process.env, KAPSEL_STORE: store } }).toString();

after(() => {
  for (const n of [`kti${tag}`, 'kapsel0']) spawnSync('ip', ['netns', 'exec', NS, KAPSEL, 'network', 'rm', n], { env: { ...process.env, KAPSEL_STORE: store } });
  spawnSync('ip', ['netns', 'del', NS]);
  rmSync(store, { recursive: true, force: true });
  assert.ok(!execFileSync('ip', ['netns', 'list']).toString().includes(NS));
});

test('iptables-nft rules survive a kapsel network, and kapsel leaves nothing in the ruleset', () => {
  execFileSync('ip', ['netns', 'add', NS]);
  inNs('ip', ['link', 'set', 'lo', 'up']);
  // a new namespace starts with the host's ip_forward (ip-sysctl.rst, devconf_inherit_init_net)
  inNs('sh', ['-c', 'echo 0 > /proc/sys/net/ipv4/ip_forward']);
  inNs('iptables', ['-t', 'nat', '-A', 'POSTROUTING', '-s', '10.77.0.0/16', '!', '-o', 'lo', '-j', 'MASQUERADE']);
  inNs('iptables', ['-N', 'KT-USER']);
  inNs('iptables', ['-A', 'FORWARD', '-j', 'KT-USER']);
  inNs('iptables', ['-A', 'KT-USER', '-s', '10.77.0.0/16', '-j', 'ACCEPT']);
  const rulesBefore = inNs('iptables-save', []).replace(/^#.*\n/gm, '').replace(/\[\d+:\d+\]/g, '');
  const rulesetBefore = inNs('nft', ['list', 'ruleset']);

  const hostRecord = (): string | undefined => (existsSync('/run/kapsel/network-ip-forward.json') ? readFileSync('/run/kapsel/network-ip-forward.json', 'utf8') : undefined);
  const hostRecordBefore = hostRecord();
  const nsRecords = (): string[] => (existsSync('/run/kapsel') ? readdirSync('/run/kapsel').filter((f) => /^network-ip-forward-netns-\d+\.json$/.test(f)) : []);
  const recordsBefore = nsRecords();
  inNs(KAPSEL, ['network', 'create', '--subnet', '10.213.251.0/24', '--bridge', `kt-${tag}-b`, `kti${tag}`]);
  // ip_forward is per namespace, /run is shared with the host: the namespace keeps its own record
  assert.equal(hostRecord(), hostRecordBefore, "the host namespace's ip_forward record is not touched");
  const ownRecords = nsRecords().filter((f) => !recordsBefore.includes(f));
  assert.equal(ownRecords.length, 1, `a record of the namespace's own: ${ownRecords.join(' ')}`);
  assert.match(readFileSync(join('/run/kapsel', ownRecords[0]!), 'utf8'), /"previous":"0"/);
  const tables = inNs('nft', ['list', 'tables']);
  assert.match(tables, /table ip kapsel_[0-9a-f]{8}/);
  assert.match(tables, /table ip nat/);
  assert.match(tables, /table ip filter/);
  assert.equal(inNs('iptables-save', []).replace(/^#.*\n/gm, '').replace(/\[\d+:\d+\]/g, ''), rulesBefore, 'iptables rules untouched');
  assert.equal(inNs('cat', ['/proc/sys/net/ipv4/ip_forward']).trim(), '1');

  inNs(KAPSEL, ['network', 'rm', `kti${tag}`]);
  assert.equal(inNs('nft', ['list', 'ruleset']), rulesetBefore, 'the ruleset is as before');
  assert.equal(inNs('cat', ['/proc/sys/net/ipv4/ip_forward']).trim(), '0', 'ip_forward restored in the namespace');
  assert.equal(existsSync(join('/run/kapsel', ownRecords[0]!)), false, "the namespace's record goes with its last network");
  assert.equal(hostRecord(), hostRecordBefore);
});

test('the default network, made on first use, avoids the routes of the host it is made on', async () => {
  // in the test's namespace, 172.30.0.0/16 is already routed (as a VPN or LAN would be)
  inNs('ip', ['link', 'add', `kt-${tag}-d`, 'type', 'bridge']); // no dummy module on every kernel
  inNs('ip', ['addr', 'add', '172.30.0.1/16', 'dev', `kt-${tag}-d`]);
  inNs('ip', ['link', 'set', `kt-${tag}-d`, 'up']);
  const box = spawn('ip', ['netns', 'exec', NS, 'unshare', '-n', 'sleep', '100000'], { stdio: 'ignore' });
  try {
    let netns = '';
    for (let i = 0; i < 100 && netns === ''; i++) {
      // ip netns exec and unshare both exec: the child itself becomes sleep, in its own namespace
      if (readFileSync(`/proc/${box.pid}/cmdline`, 'utf8').startsWith('sleep')) netns = `/proc/${box.pid}/ns/net`;
      else await new Promise((r) => setTimeout(r, 20));
    }
    const r = JSON.parse(inNs(KAPSEL, ['network', 'connect', '--netns', netns, 'bridge', 'c1'])) as { network: string; ip: string; gateway: string };
    assert.equal(r.network, 'kapsel0');
    assert.equal(r.gateway, '172.31.0.1');
    assert.equal(r.ip, '172.31.0.2');
    // a store other than the default one names its default bridge after itself
    const bridge = (JSON.parse(inNs(KAPSEL, ['network', 'inspect', 'kapsel0'])) as { bridge: string }[])[0]!.bridge;
    assert.match(bridge, /^kb-[0-9a-f]{12}$/);
    assert.match(inNs('ip', ['-o', 'addr', 'show', bridge]), /172\.31\.0\.1\/16/);
    inNs(KAPSEL, ['network', 'disconnect', 'bridge', 'c1']);
    // the default network goes with its last container: record and bridge
    assert.doesNotMatch(inNs(KAPSEL, ['network', 'ls', '-q']), /kapsel0/);
    assert.doesNotMatch(inNs('ip', ['-o', 'link']), new RegExp(bridge));
  } finally {
    box.kill('SIGKILL');
  }
});

test('the last network to go leaves nothing of the ip_forward record under /run/kapsel', () => {
  // a network namespace of its own (ip_forward 0, set here) and a private /run (tmpfs in a mount
  // namespace of its own): the real host's record and sysctl are never touched, and both go
  // with the shell
  const script = [
    'mount -t tmpfs kt-run /run',
    'echo 0 > /proc/sys/net/ipv4/ip_forward',
    `"$0" network create --subnet 10.213.250.0/24 --bridge kt-${tag}-f ktf${tag} >/dev/null`,
    'cat /proc/sys/net/ipv4/ip_forward',
    'ls -A /run/kapsel',
    `"$0" network rm ktf${tag} >/dev/null`,
    'echo ---',
    'cat /proc/sys/net/ipv4/ip_forward',
    'ls -A /run/kapsel',
  ].join(' && ');
  const out = execFileSync('unshare', ['-m', '-n', '--propagation', 'private', 'sh', '-c', script, KAPSEL], { env: { ...process.env, KAPSEL_STORE: store } }).toString();
  const [during, afterRm] = out.split('---\n');
  // not pid 1's network namespace: the record is named by the namespace's cookie
  assert.match(during ?? "", /^1\nnetwork-ip-forward-netns-(\d+)\.json\nnetwork-ip-forward-netns-\1\.json\.lock\n$/, 'while the network exists: ip_forward 1, the record and its lock');
  assert.equal(afterRm, '0\n', 'after it: ip_forward restored, /run/kapsel empty');
});
