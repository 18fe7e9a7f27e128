/**
 * kapsel's nft table next to iptables-nft rules (docker's and CNI's kind), in a network namespace
 * the test makes (`ip netns add`), so the host's own firewall is never touched: the iptables
 * rules are the same before and after a network is created, used and removed, and nothing of
 * kapsel's is left in `nft list ruleset`.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const KAPSEL = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'kapsel');
const tag = Math.random().toString(36).slice(2, 6);
const NS = `kt-${tag}-ipt`;
const store = mkdtempSync(join(tmpdir(), 'kt-net-ipt-'));
const inNs = (cmd: string, args: string[]): string => execFileSync('ip', ['netns', 'exec', NS, cmd, ...args], { env: { ...process.env, KAPSEL_STORE: store } }).toString();

after(() => {
  spawnSync('ip', ['netns', 'exec', NS, KAPSEL, 'network', 'rm', `kti${tag}`], { env: { ...process.env, KAPSEL_STORE: store } });
  spawnSync('ip', ['netns', 'del', NS]);
  rmSync(store, { recursive: true, force: true });
  assert.ok(!execFileSync('ip', ['netns', 'list']).toString().includes(NS));
});

test('iptables-nft rules survive a kapsel network, and kapsel leaves nothing in the ruleset', () => {
  execFileSync('ip', ['netns', 'add', NS]);
  inNs('ip', ['link', 'set', 'lo', 'up']);
  inNs('iptables', ['-t', 'nat', '-A', 'POSTROUTING', '-s', '10.77.0.0/16', '!', '-o', 'lo', '-j', 'MASQUERADE']);
  inNs('iptables', ['-N', 'KT-USER']);
  inNs('iptables', ['-A', 'FORWARD', '-j', 'KT-USER']);
  inNs('iptables', ['-A', 'KT-USER', '-s', '10.77.0.0/16', '-j', 'ACCEPT']);
  const rulesBefore = inNs('iptables-save', []).replace(/^#.*\n/gm, '').replace(/\[\d+:\d+\]/g, '');
  const rulesetBefore = inNs('nft', ['list', 'ruleset']);

  inNs(KAPSEL, ['network', 'create', '--subnet', '10.213.251.0/24', '--bridge', `kt-${tag}-b`, `kti${tag}`]);
  const tables = inNs('nft', ['list', 'tables']);
  assert.match(tables, /table ip kapsel_[0-9a-f]{8}/);
  assert.match(tables, /table ip nat/);
  assert.match(tables, /table ip filter/);
  assert.equal(inNs('iptables-save', []).replace(/^#.*\n/gm, '').replace(/\[\d+:\d+\]/g, ''), rulesBefore, 'iptables rules untouched');
  assert.equal(inNs('cat', ['/proc/sys/net/ipv4/ip_forward']).trim(), '1');

  inNs(KAPSEL, ['network', 'rm', `kti${tag}`]);
  assert.equal(inNs('nft', ['list', 'ruleset']), rulesetBefore, 'the ruleset is as before');
  assert.equal(inNs('cat', ['/proc/sys/net/ipv4/ip_forward']).trim(), '0', 'ip_forward restored in the namespace');
});
