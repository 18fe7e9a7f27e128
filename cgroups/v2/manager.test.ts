/** The v2 driver on a fake pure-v2 host: exact effects, in order. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { KapselError } from '../../common/errors.js';
import type { DeviceCgroupRule } from '../../oci/runtime-spec.js';
import { fakeHost, UNIFIED_MOUNTINFO, type FakeHost } from '../fake-cgroup-host.js';
import { newCgroupManager, type NewCgroupManagerOptions } from '../detect.js';
import { deviceFilterProgram } from './device-bpf.js';

const ROOT_FILES = {
  'sys/fs/cgroup/cgroup.controllers': 'cpuset cpu io memory hugetlb pids\n',
  'sys/fs/cgroup/cgroup.subtree_control': 'cpu\n',
  'sys/fs/cgroup/cgroup.procs': '1\n',
};

const isCode = (code: string) => (e: unknown) => e instanceof KapselError && e.code === code;

describe('v2 manager on a fake unified host', () => {
  let host: FakeHost | undefined;
  afterEach(() => host?.cleanup());

  function manager(h: FakeHost, extra: Partial<NewCgroupManagerOptions> = {}) {
    return newCgroupManager({ cgroupsPath: '/k/c1', id: 'c1', root: h.root, mountinfo: UNIFIED_MOUNTINFO, fs: h.fs, ...extra });
  }

  it('creates one directory and joins it', () => {
    host = fakeHost(ROOT_FILES);
    const m = manager(host);
    assert.equal(m.mode, 'unified');
    m.create();
    m.join(99);
    assert.deepEqual(host.fs.ops.map((o) => `${o.op} ${o.path}${o.value === undefined ? '' : `=${o.value}`}`), [
      'mkdir sys/fs/cgroup/k',
      'mkdir sys/fs/cgroup/k/c1',
      'write sys/fs/cgroup/k/c1/cgroup.procs=99',
    ]);
    assert.deepEqual(m.paths(), { unified: join(host.root, 'sys/fs/cgroup/k/c1') });
  });

  it('delegates only the needed controllers, then writes each controller, unified last', () => {
    host = fakeHost(ROOT_FILES);
    const m = manager(host);
    m.create();
    host.fs.ops.length = 0;
    m.apply({
      unified: { 'memory.high': '50000000' },
      pids: { limit: 20 },
      memory: { limit: 1 << 26, swap: 1 << 27, reservation: 1 << 24 },
      blockIO: { weight: 100, throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 10 }] },
      cpu: { shares: 2000, quota: 20000, period: 100000, cpus: '0' },
      hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }],
    });
    const d = 'sys/fs/cgroup';
    assert.deepEqual(host.fs.writes(), [
      `${d}/cgroup.subtree_control=+cpuset`, // cpu is already enabled at the root
      `${d}/cgroup.subtree_control=+hugetlb`,
      `${d}/cgroup.subtree_control=+io`,
      `${d}/cgroup.subtree_control=+memory`,
      `${d}/cgroup.subtree_control=+pids`,
      `${d}/k/cgroup.subtree_control=+cpu`,
      `${d}/k/cgroup.subtree_control=+cpuset`,
      `${d}/k/cgroup.subtree_control=+hugetlb`,
      `${d}/k/cgroup.subtree_control=+io`,
      `${d}/k/cgroup.subtree_control=+memory`,
      `${d}/k/cgroup.subtree_control=+pids`,
      `${d}/k/c1/pids.max=20`,
      `${d}/k/c1/memory.swap.max=67108864`,
      `${d}/k/c1/memory.max=67108864`,
      `${d}/k/c1/memory.low=16777216`,
      `${d}/k/c1/io.weight=910`, // no io.bfq.weight: converted for iocost
      `${d}/k/c1/io.max=8:0 wiops=10`,
      `${d}/k/c1/cpu.weight=170`,
      `${d}/k/c1/cpu.max=20000 100000`,
      `${d}/k/c1/cpuset.cpus=0`,
      `${d}/k/c1/hugetlb.2MB.max=4194304`,
      `${d}/k/c1/memory.high=50000000`,
    ]);
  });

  it('uses io.bfq.weight with the raw weight when BFQ is there', () => {
    host = fakeHost({
      ...ROOT_FILES,
      'sys/fs/cgroup/k/cgroup.subtree_control': 'io\n',
      'sys/fs/cgroup/k/c1/io.bfq.weight': 'default 100\n',
    });
    const m = manager(host);
    host.fs.ops.length = 0;
    m.apply({ blockIO: { weight: 100 } });
    assert.deepEqual(host.fs.writes(), ['sys/fs/cgroup/cgroup.subtree_control=+io', 'sys/fs/cgroup/k/c1/io.bfq.weight=100']);
  });

  it('fails before any write when the root lacks a controller', () => {
    host = fakeHost({ ...ROOT_FILES, 'sys/fs/cgroup/cgroup.controllers': 'cpu\n' });
    const m = manager(host);
    m.create();
    host.fs.ops.length = 0;
    assert.throws(() => m.apply({ pids: { limit: 1 } }), isCode('ERR_CGROUP_CONTROLLER_MISSING'));
    assert.deepEqual(host.fs.writes(), []);
  });

  it('loads the device filter through the injected loader with the cgroup directory fd', () => {
    host = fakeHost(ROOT_FILES);
    const calls: [number, string][] = [];
    const m = manager(host, { loadAndAttachDeviceProgram: (fd, insns) => calls.push([fd, insns.toString('hex')]) });
    m.create();
    const devices: DeviceCgroupRule[] = [{ allow: false }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }];
    m.apply({ devices });
    assert.deepEqual(calls, [[1000, deviceFilterProgram(devices).toString('hex')]]);
    assert.deepEqual(host.fs.ops.filter((o) => o.op === 'openDirectory').map((o) => o.path), ['sys/fs/cgroup/k/c1']);
  });

  it('refuses device rules without a loader', () => {
    host = fakeHost(ROOT_FILES);
    const m = manager(host);
    m.create();
    assert.throws(() => m.apply({ devices: [{ allow: false }] }), isCode('ERR_CGROUP_DEVICES_UNSUPPORTED'));
    m.apply({}); // no devices: nothing to load
  });

  it('notes what v2 cannot do instead of failing', () => {
    host = fakeHost(ROOT_FILES);
    const notes: string[] = [];
    const m = manager(host, { debug: (n) => notes.push(n) });
    m.create();
    m.apply({ memory: { swappiness: 10, disableOOMKiller: true }, network: { classID: 3 } });
    assert.equal(notes.length, 3);
  });

  it('checks usage before lowering the limit when asked', () => {
    host = fakeHost(ROOT_FILES);
    const m = manager(host);
    m.create();
    assert.throws(() => m.update({ memory: { limit: 4096, checkBeforeUpdate: true } }), isCode('ERR_CGROUP_MEMORY_BELOW_USAGE'));
    m.update({ memory: { limit: 1 << 20, checkBeforeUpdate: true } });
  });

  it('reads stats and the OOM kill count', () => {
    host = fakeHost(ROOT_FILES);
    const m = manager(host);
    m.create();
    assert.deepEqual(m.stats(), {
      cpu: { usageTotalNs: 5000, usageUserNs: 3000, usageSystemNs: 2000, throttling: { periods: 0, throttledPeriods: 0, throttledTimeNs: 0 } },
      memory: { usageBytes: 8192, maxUsageBytes: 16384, limitBytes: null, cacheBytes: 4096, swapUsageBytes: 0, oomKills: 1 },
      pids: { current: 1, limit: null },
      blockIO: { devices: [{ major: 8, minor: 0, readBytes: 4096, writeBytes: 8192, readOps: 1, writeOps: 2 }] },
      hugetlb: { '2MB': { usageBytes: 0, maxUsageBytes: undefined } },
    });
    assert.equal(m.oomKillCount(), 1);
  });

  it('freezes once cgroup.events says frozen, and gives up (thawing) after the timeout', async () => {
    host = fakeHost(ROOT_FILES);
    const m = manager(host, { freezeTimeoutMs: 30 });
    m.create();
    const events = join(host.root, 'sys/fs/cgroup/k/c1/cgroup.events');
    await assert.rejects(m.freeze(), isCode('ERR_CGROUP_FREEZE'));
    assert.deepEqual(host.fs.writes(), ['sys/fs/cgroup/k/c1/cgroup.freeze=1', 'sys/fs/cgroup/k/c1/cgroup.freeze=0']);
    writeFileSync(events, 'populated 1\nfrozen 1\n');
    await m.freeze();
    assert.equal(m.frozen(), true);
    writeFileSync(events, 'populated 1\nfrozen 0\n');
    await m.thaw();
    assert.equal(m.frozen(), false);
  });

  it('removes the cgroup and tolerates a second destroy', async () => {
    host = fakeHost(ROOT_FILES);
    const m = manager(host);
    m.create();
    await m.destroy();
    await m.destroy();
    assert.deepEqual(host.fs.ops.filter((o) => o.op === 'rmdir').map((o) => o.path), ['sys/fs/cgroup/k/c1']);
  });
});
