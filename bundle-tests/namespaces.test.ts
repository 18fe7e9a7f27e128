// Namespaces, sysctls and the ways of switching root, checked from inside the container.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { bundleFactory, makeBundle, runIn, runtime, leftovers, sleepMs, type Bundle } from './helpers.js';

const { bundle, cleanupAll } = bundleFactory();
after(cleanupAll);

test('a new network namespace has only loopback', () => {
  const r = runIn(bundle(['sh', '-c', 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "']));
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'lo');
});

test('a new network namespace gets its loopback up (as runc and crun; podman --network none relies on it)', () => {
  const r = runIn(bundle(['sh', '-c', 'ip -o link show lo; ip -o -4 addr show lo']));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /<LOOPBACK,UP,LOWER_UP>/);
  assert.match(r.stdout, /inet 127\.0\.0\.1\/8/);
});

test('a network namespace joined by path is left as it is: its loopback stays down', async () => {
  const holder = spawn('unshare', ['--net', 'sleep', '60'], { stdio: 'ignore' });
  try {
    const own = readlinkSync('/proc/self/ns/net');
    for (let i = 0; i < 200; i++) {
      try {
        if (readlinkSync(`/proc/${holder.pid}/ns/net`) !== own && readFileSync(`/proc/${holder.pid}/comm`, 'utf8').trim() === 'sleep') break;
      } catch {
        // not there yet
      }
      await sleepMs(10);
    }
    const r = runIn(bundle(['ip', '-o', 'link', 'show', 'lo'], (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: `/proc/${holder.pid}/ns/net` } : n));
    }));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /<LOOPBACK>/);
  } finally {
    holder.kill('SIGKILL');
  }
});

test('sysctls are set inside the container only', () => {
  const host = readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim();
  const r = runIn(bundle(['cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start'], (s) => {
    s.linux!.sysctl = { 'net.ipv4.ip_unprivileged_port_start': '123' };
  }));
  assert.equal(r.stdout.trim(), '123');
  assert.equal(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim(), host);
});

test('hostname and domainname are set in the container\'s own UTS namespace', () => {
  const r = runIn(bundle(['sh', '-c', 'hostname; cat /proc/sys/kernel/domainname'], (s) => {
    s.hostname = 'inner';
    s.domainname = 'example.test';
  }));
  assert.equal(r.stdout, 'inner\nexample.test\n');
  assert.notEqual(readFileSync('/proc/sys/kernel/hostname', 'utf8').trim(), 'inner');
});

test('a time namespace applies timeOffsets (boottime)', () => {
  const r = runIn(bundle(['cat', '/proc/uptime'], (s) => {
    s.linux!.namespaces!.push({ type: 'time' });
    s.linux!.timeOffsets = { boottime: { secs: 86400 * 10, nanosecs: 0 } };
  }));
  assert.equal(r.status, 0, r.stderr);
  const hostUptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  const inner = Number(r.stdout.split(' ')[0]);
  assert.ok(inner >= hostUptime + 86400 * 10 - 5, `uptime ${inner} vs host ${hostUptime}`);
});

test('--no-pivot switches root with MS_MOVE + chroot; the process still sees only the rootfs', () => {
  const b = bundle(['sh', '-c', 'ls /; cat /proc/self/mountinfo | wc -l']);
  b.write();
  const r = runtime(b, ['--debug', 'run', '--no-pivot', '--bundle', b.dir, 'nopivot']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /switch root: move/);
  assert.match(r.stdout, /^bin\ndev\netc\nproc\nroot\nsys\ntmp\n/);
  assert.deepEqual(leftovers(b, 'nopivot'), []);
});

test('joining an existing namespace by path: a second container shares the first one\'s network namespace', () => {
  const a = bundle(['sleep', '30'], (s) => { s.hostname = 'first'; });
  assert.equal(runtime(a, ['run', '-d', '--bundle', a.dir, 'ns-a']).status, 0);
  const pid = JSON.parse(runtime(a, ['state', 'ns-a']).stdout).pid as number;
  const b = bundle(['hostname'], (s) => {
    s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'uts' ? { type: 'uts', path: `/proc/${pid}/ns/uts` } : n));
    delete s.hostname;
  });
  const r = runIn(b, 'ns-b');
  assert.equal(r.stdout.trim(), 'first');
  assert.equal(runtime(a, ['delete', '--force', 'ns-a']).status, 0);
  assert.deepEqual(leftovers(a, 'ns-a'), []);
});

test('the process gets a session keyring named after the container; --no-new-keyring keeps the caller\'s', () => {
  const edit = (s: Parameters<NonNullable<Parameters<typeof makeBundle>[1]>>[0]): void => {
    s.linux!.maskedPaths = s.linux!.maskedPaths!.filter((p) => p !== '/proc/keys');
  };
  const b = bundle(['cat', '/proc/keys'], edit);
  const withRing = runIn(b, 'keyring-own');
  assert.equal(withRing.status, 0, withRing.stderr);
  assert.match(withRing.stdout, /keyring\s+keyring-own:/);
  b.write();
  const without = runtime(b, ['run', '--no-new-keyring', '--bundle', b.dir, 'keyring-none']);
  assert.equal(without.status, 0, without.stderr);
  assert.doesNotMatch(without.stdout, /keyring-none/);
});
