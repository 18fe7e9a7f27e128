/** The v1/hybrid driver on a fake cgroup root: exact effects, in order. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { KapselError } from '../../common/errors.js';
import { fakeHost, HYBRID_MOUNTINFO, LEGACY_MOUNTINFO, type FakeHost } from '../fake-cgroup-host.js';
import { newCgroupManager } from '../detect.js';

const HIERARCHIES = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'systemd', 'unified'];

function hybridRoot(extra: Record<string, string> = {}): Record<string, string> {
  const files: Record<string, string> = {};
  for (const h of HIERARCHIES) files[`sys/fs/cgroup/${h}/cgroup.procs`] = '';
  files['sys/fs/cgroup/cpuset/cpuset.cpus'] = '0-3\n';
  files['sys/fs/cgroup/cpuset/cpuset.mems'] = '0\n';
  files['sys/fs/cgroup/unified/cgroup.controllers'] = 'hugetlb\n';
  files['sys/fs/cgroup/unified/cgroup.subtree_control'] = '\n';
  return { ...files, ...extra };
}

const isCode = (code: string) => (e: unknown) => e instanceof KapselError && e.code === code;

describe('v1 manager on a fake hybrid host', () => {
  let host: FakeHost | undefined;
  afterEach(() => host?.cleanup());

  function manager(h: FakeHost, extra: { debug?: (m: string) => void; cgroupsPath?: string } = {}) {
    return newCgroupManager({ cgroupsPath: extra.cgroupsPath ?? '/k/c1', id: 'c1', root: h.root, mountinfo: HYBRID_MOUNTINFO, fs: h.fs, debug: extra.debug });
  }

  it('creates the path in every hierarchy and fills new cpusets from their parents', () => {
    host = fakeHost(hybridRoot());
    const m = manager(host);
    assert.equal(m.mode, 'hybrid');
    m.create();
    const mkdirs = host.fs.ops.filter((o) => o.op === 'mkdir').map((o) => o.path);
    assert.deepEqual(mkdirs, HIERARCHIES.flatMap((h) => [`sys/fs/cgroup/${h}/k`, `sys/fs/cgroup/${h}/k/c1`]));
    assert.deepEqual(host.fs.writes(), [
      'sys/fs/cgroup/cpuset/k/cpuset.cpus=0-3',
      'sys/fs/cgroup/cpuset/k/cpuset.mems=0',
      'sys/fs/cgroup/cpuset/k/c1/cpuset.cpus=0-3',
      'sys/fs/cgroup/cpuset/k/c1/cpuset.mems=0',
    ]);
  });

  it('never writes to an existing parent cpuset that has values, only to what it created', () => {
    host = fakeHost(hybridRoot({ 'sys/fs/cgroup/cpuset/k/cpuset.cpus': '1\n', 'sys/fs/cgroup/cpuset/k/cpuset.mems': '0\n' }));
    manager(host).create();
    assert.deepEqual(host.fs.writes(), ['sys/fs/cgroup/cpuset/k/c1/cpuset.cpus=1', 'sys/fs/cgroup/cpuset/k/c1/cpuset.mems=0']);
  });

  it('fills an existing parent whose cpuset is still empty (a parallel create just made it) before its new child', () => {
    host = fakeHost(hybridRoot({ 'sys/fs/cgroup/cpuset/k/cpuset.cpus': '\n', 'sys/fs/cgroup/cpuset/k/cpuset.mems': '\n' }));
    manager(host).create();
    assert.deepEqual(host.fs.writes(), [
      'sys/fs/cgroup/cpuset/k/cpuset.cpus=0-3',
      'sys/fs/cgroup/cpuset/k/cpuset.mems=0',
      'sys/fs/cgroup/cpuset/k/c1/cpuset.cpus=0-3',
      'sys/fs/cgroup/cpuset/k/c1/cpuset.mems=0',
    ]);
  });

  it('joins every hierarchy, name=systemd and the unified one included', () => {
    host = fakeHost(hybridRoot());
    const m = manager(host);
    m.create();
    host.fs.ops.length = 0;
    m.join(4242);
    assert.deepEqual(host.fs.writes(), HIERARCHIES.map((h) => `sys/fs/cgroup/${h}/k/c1/cgroup.procs=4242`));
  });

  it('applies every controller with exact writes, kmem reported as a note', () => {
    host = fakeHost(hybridRoot());
    const notes: string[] = [];
    const m = manager(host, { debug: (n) => notes.push(n) });
    m.create();
    host.fs.ops.length = 0;
    m.apply({
      devices: [{ allow: false }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }],
      memory: { limit: 1 << 26, swap: 1 << 27, kernel: 1 << 20 },
      cpu: { shares: 512, quota: 50000, period: 100000, cpus: '1', mems: '0' },
      pids: { limit: 10 },
      blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1024 }] },
    });
    const d = 'sys/fs/cgroup';
    assert.deepEqual(host.fs.writes(), [
      `${d}/devices/k/c1/devices.deny=a`,
      `${d}/devices/k/c1/devices.deny=a`,
      `${d}/devices/k/c1/devices.allow=c 1:3 rwm`,
      `${d}/memory/k/c1/memory.limit_in_bytes=67108864`,
      `${d}/memory/k/c1/memory.memsw.limit_in_bytes=134217728`,
      `${d}/cpu/k/c1/cpu.shares=512`,
      `${d}/cpu/k/c1/cpu.cfs_period_us=100000`,
      `${d}/cpu/k/c1/cpu.cfs_quota_us=50000`,
      `${d}/cpuset/k/c1/cpuset.cpus=1`,
      `${d}/cpuset/k/c1/cpuset.mems=0`,
      `${d}/pids/k/c1/pids.max=10`,
      `${d}/blkio/k/c1/blkio.throttle.read_bps_device=8:0 1024`,
    ]);
    assert.equal(notes.length, 1);
    assert.match(notes[0]!, /kernel memory limits are deprecated/);
  });

  it('retries memory and memsw in the other order on EINVAL', () => {
    let failed = false;
    host = fakeHost(hybridRoot(), {
      failWrite: (path) => {
        if (failed || !path.endsWith('memory.limit_in_bytes')) return undefined;
        failed = true;
        return 'EINVAL';
      },
    });
    const m = manager(host);
    m.create();
    host.fs.ops.length = 0;
    m.apply({ memory: { limit: 1 << 28, swap: 1 << 29 } });
    assert.deepEqual(host.fs.writes(), [
      'sys/fs/cgroup/memory/k/c1/memory.memsw.limit_in_bytes=536870912',
      'sys/fs/cgroup/memory/k/c1/memory.limit_in_bytes=268435456',
    ]);
  });

  it('fails with the errno when a write fails otherwise', () => {
    host = fakeHost(hybridRoot(), { failWrite: (path) => (path.endsWith('pids.max') ? 'EACCES' : undefined) });
    const m = manager(host);
    m.create();
    assert.throws(
      () => m.apply({ pids: { limit: 3 } }),
      (e: unknown) =>
        e instanceof KapselError && e.code === 'ERR_CGROUP_WRITE' && /write `3` to `.*pids\.max`: EACCES \(permission denied\)/.test(e.message),
    );
  });

  it('validates everything before the first write', () => {
    host = fakeHost(hybridRoot());
    const m = manager(host);
    m.create();
    host.fs.ops.length = 0;
    assert.throws(() => m.apply({ pids: { limit: 5 }, cpu: { shares: 1 } }), isCode('ERR_CGROUP_RESOURCES'));
    assert.deepEqual(host.fs.writes(), []);
  });

  it('sends hugetlb limits and unified keys to cgroup2 when v1 has no hugetlb', () => {
    host = fakeHost(hybridRoot());
    const m = manager(host);
    m.create();
    host.fs.ops.length = 0;
    m.apply({ hugepageLimits: [{ pageSize: '2MB', limit: 2097152 }], unified: { 'cgroup.max.depth': '2' } });
    assert.deepEqual(host.fs.writes(), [
      'sys/fs/cgroup/unified/cgroup.subtree_control=+hugetlb',
      'sys/fs/cgroup/unified/k/cgroup.subtree_control=+hugetlb',
      'sys/fs/cgroup/unified/k/c1/hugetlb.2MB.max=2097152',
      'sys/fs/cgroup/unified/k/c1/cgroup.max.depth=2',
    ]);
  });

  it('refuses resources for an unmounted controller but only notes net_cls/net_prio', () => {
    host = fakeHost(hybridRoot());
    const notes: string[] = [];
    const m = manager(host, { debug: (n) => notes.push(n) });
    m.create();
    m.apply({ network: { classID: 1 } });
    assert.match(notes.join('\n'), /net_cls not mounted/);
    assert.throws(() => m.apply({ blockIO: { weight: 500 } }), isCode('ERR_CGROUP_CONTROLLER_MISSING'));
  });

  it('reads stats from every controller', () => {
    host = fakeHost(hybridRoot());
    const m = manager(host);
    m.create();
    assert.deepEqual(m.stats(), {
      cpu: { usageTotalNs: 3000, usageUserNs: 2000, usageSystemNs: 1000, throttling: { periods: 10, throttledPeriods: 2, throttledTimeNs: 5000 } },
      memory: { usageBytes: 8192, maxUsageBytes: 16384, limitBytes: null, cacheBytes: 4096, swapUsageBytes: 4096, oomKills: 2 },
      pids: { current: 1, limit: null },
      blockIO: { devices: [{ major: 8, minor: 0, readBytes: 4096, writeBytes: 8192, readOps: 1, writeOps: 2 }] },
      hugetlb: { '2MB': { usageBytes: 0, maxUsageBytes: undefined } },
    });
    assert.equal(m.oomKillCount(), 2);
  });

  it('lists pids recursively', () => {
    host = fakeHost(hybridRoot({ 'sys/fs/cgroup/pids/k/c1/cgroup.procs': '10\n11\n', 'sys/fs/cgroup/pids/k/c1/sub/cgroup.procs': '12\n' }));
    assert.deepEqual(manager(host).pids().sort(), [10, 11, 12]);
  });

  it('freezes and thaws through freezer.state', async () => {
    host = fakeHost(hybridRoot());
    const m = manager(host);
    m.create();
    await m.freeze();
    assert.equal(m.frozen(), true);
    await m.thaw();
    assert.equal(m.frozen(), false);
    const state = host.fs.writes().filter((w) => w.includes('freezer.state'));
    assert.deepEqual(state, ['sys/fs/cgroup/freezer/k/c1/freezer.state=FROZEN', 'sys/fs/cgroup/freezer/k/c1/freezer.state=THAWED']);
  });

  it('destroys the leaf and its sub-cgroups in every hierarchy, tolerating ENOENT', async () => {
    host = fakeHost(hybridRoot());
    const m = manager(host);
    m.create();
    host.fs.mkdir(join(host.root, 'sys/fs/cgroup/memory/k/c1/nested'));
    host.fs.ops.length = 0;
    await m.destroy();
    const rmdirs = host.fs.ops.filter((o) => o.op === 'rmdir').map((o) => o.path);
    assert.equal(rmdirs[0], 'sys/fs/cgroup/cpu/k/c1');
    assert.ok(rmdirs.indexOf('sys/fs/cgroup/memory/k/c1/nested') < rmdirs.indexOf('sys/fs/cgroup/memory/k/c1'));
    assert.equal(rmdirs.length, HIERARCHIES.length + 1);
    assert.ok(rmdirs.every((p) => !p.endsWith('/k')), 'parents are left alone');
    await m.destroy();
  });

  it('reports paths per controller', () => {
    host = fakeHost(hybridRoot());
    const paths = manager(host).paths();
    assert.equal(paths['cpu'], join(host.root, 'sys/fs/cgroup/cpu/k/c1'));
    assert.equal(paths['cpuacct'], join(host.root, 'sys/fs/cgroup/cpuacct/k/c1'));
    assert.equal(paths['name=systemd'], join(host.root, 'sys/fs/cgroup/systemd/k/c1'));
    assert.equal(paths['unified'], join(host.root, 'sys/fs/cgroup/unified/k/c1'));
  });
});

describe('v1 manager on a fake legacy host (co-mounted controllers)', () => {
  let host: FakeHost | undefined;
  afterEach(() => host?.cleanup());

  it('uses one directory for cpu,cpuacct and net_cls,net_prio, and has no unified side', () => {
    const files: Record<string, string> = {};
    for (const h of ['systemd', 'cpu,cpuacct', 'net_cls,net_prio', 'memory', 'hugetlb', 'freezer', 'cpuset', 'perf_event']) {
      files[`sys/fs/cgroup/${h}/cgroup.procs`] = '';
    }
    files['sys/fs/cgroup/cpuset/cpuset.cpus'] = '0\n';
    files['sys/fs/cgroup/cpuset/cpuset.mems'] = '0\n';
    host = fakeHost(files);
    const m = newCgroupManager({ cgroupsPath: '/k/c1', id: 'c1', root: host.root, mountinfo: LEGACY_MOUNTINFO, fs: host.fs });
    assert.equal(m.mode, 'legacy');
    m.create();
    const paths = m.paths();
    assert.equal(paths['cpu'], paths['cpuacct']);
    assert.equal(paths['net_cls'], paths['net_prio']);
    assert.equal(paths['unified'], undefined);
    host.fs.ops.length = 0;
    m.apply({ cpu: { shares: 100 }, network: { classID: 7, priorities: [{ name: 'eth0', priority: 2 }] }, hugepageLimits: [{ pageSize: '2MB', limit: 0 }] });
    assert.deepEqual(host.fs.writes(), [
      'sys/fs/cgroup/cpu,cpuacct/k/c1/cpu.shares=100',
      'sys/fs/cgroup/hugetlb/k/c1/hugetlb.2MB.limit_in_bytes=0',
      'sys/fs/cgroup/net_cls,net_prio/k/c1/net_cls.classid=7',
      'sys/fs/cgroup/net_cls,net_prio/k/c1/net_prio.ifpriomap=eth0 2',
    ]);
    assert.equal(readFileSync(join(paths['cpu']!, 'cpu.shares'), 'utf8'), '100');
    assert.throws(() => m.apply({ unified: { 'memory.high': '1' } }), isCode('ERR_CGROUP_RESOURCES'));
  });
});
