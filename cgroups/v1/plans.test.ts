/** Exact steps each v1 controller plans (pure: no filesystem). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KapselError } from '../../common/errors.js';
import type { PidsResources } from '../../oci/runtime-spec.js';
import type { CgroupStep } from '../cgroup-plan.js';
import { planBlkioV1 } from './blkio.js';
import { planCpuV1 } from './cpu.js';
import { planCpusetInherit, planCpusetV1 } from './cpuset.js';
import { planDevicesV1 } from './devices.js';
import { planHugetlbV1 } from './hugetlb.js';
import { planMemoryV1 } from './memory.js';
import { planNetClsV1 } from './net-cls.js';
import { planNetPrioV1 } from './net-prio.js';
import { planPids } from './pids.js';

/** `file=value`, `(a=1 | b=2)` for a pair, `[a=1 / b=1]` for first-existing, `?` for ifExists. */
function show(steps: readonly CgroupStep[]): string[] {
  const one = (s: { file: string; value: string; ifExists?: boolean }) => `${s.file}=${s.value}${s.ifExists === true ? '?' : ''}`;
  return steps.map((s) => (s.op === 'write' ? one(s) : s.op === 'write-pair' ? `(${one(s.first)} | ${one(s.second)})` : `[${s.choices.map(one).join(' / ')}]`));
}

const isResourceError = (e: unknown) => e instanceof KapselError && e.code === 'ERR_CGROUP_RESOURCES';

describe('v1 cpu', () => {
  it('writes shares, period/quota as a pair, burst, rt pair, idle', () => {
    const steps = planCpuV1({ shares: 512, period: 100000, quota: 50000, burst: 1000, realtimePeriod: 1000000, realtimeRuntime: 950000, idle: 0 });
    assert.deepEqual(show(steps), [
      'cpu.shares=512',
      '(cpu.cfs_period_us=100000 | cpu.cfs_quota_us=50000)',
      'cpu.cfs_burst_us=1000',
      '(cpu.rt_period_us=1000000 | cpu.rt_runtime_us=950000)',
      'cpu.idle=0',
    ]);
  });
  it('treats a negative quota as unlimited and 0 as unset', () => {
    assert.deepEqual(show(planCpuV1({ quota: -1 })), ['cpu.cfs_quota_us=-1']);
    assert.deepEqual(show(planCpuV1({ shares: 0, quota: 0, period: 0 })), []);
  });
  it('refuses out-of-range values', () => {
    assert.throws(() => planCpuV1({ shares: 1 }), isResourceError);
    assert.throws(() => planCpuV1({ quota: 999 }), isResourceError);
    assert.throws(() => planCpuV1({ idle: 2 }), isResourceError);
  });
});

describe('v1 cpuset', () => {
  it('writes cpus and mems', () => {
    assert.deepEqual(show(planCpusetV1({ cpus: '0-3,6', mems: '0' })), ['cpuset.cpus=0-3,6', 'cpuset.mems=0']);
    assert.throws(() => planCpusetV1({ cpus: '0-3;rm' }), isResourceError);
  });
  it('copies only the empty values down from the parent', () => {
    assert.deepEqual(show(planCpusetInherit({ cpus: '0-7\n', mems: '0\n' }, { cpus: '\n', mems: '\n' })), ['cpuset.cpus=0-7', 'cpuset.mems=0']);
    assert.deepEqual(show(planCpusetInherit({ cpus: '0-7', mems: '0' }, { cpus: '2', mems: '' })), ['cpuset.mems=0']);
  });
});

describe('v1 memory', () => {
  it('writes limit and memsw as a pair, then soft limit, swappiness, oom_control, hierarchy', () => {
    const steps = planMemoryV1({ limit: 1 << 26, swap: 1 << 27, reservation: 1 << 25, swappiness: 10, disableOOMKiller: true, useHierarchy: true, kernel: 1 << 20 });
    assert.deepEqual(show(steps), [
      '(memory.limit_in_bytes=67108864 | memory.memsw.limit_in_bytes=134217728)',
      'memory.soft_limit_in_bytes=33554432',
      'memory.swappiness=10',
      'memory.oom_control=1',
      'memory.use_hierarchy=1?',
    ]);
  });
  it('lifts memsw with an unlimited limit when swap is unset, if swap accounting exists', () => {
    assert.deepEqual(show(planMemoryV1({ limit: -1 })), ['(memory.limit_in_bytes=-1 | memory.memsw.limit_in_bytes=-1?)']);
  });
  it('writes a lone limit or a lone swap', () => {
    assert.deepEqual(show(planMemoryV1({ limit: 4096 })), ['memory.limit_in_bytes=4096']);
    assert.deepEqual(show(planMemoryV1({ swap: 8192 })), ['memory.memsw.limit_in_bytes=8192']);
  });
  it('refuses swap below the limit and bad swappiness', () => {
    assert.throws(() => planMemoryV1({ limit: 8192, swap: 4096 }), isResourceError);
    assert.throws(() => planMemoryV1({ swappiness: 101 }), isResourceError);
  });
});

describe('v1 pids', () => {
  it('writes a count, or max for 0 and -1', () => {
    assert.deepEqual(show(planPids({ limit: 100 })), ['pids.max=100']);
    assert.deepEqual(show(planPids({ limit: 0 })), ['pids.max=max']);
    assert.deepEqual(show(planPids({ limit: -1 })), ['pids.max=max']);
    assert.deepEqual(show(planPids(JSON.parse('{}') as PidsResources)), []);
  });
});

describe('v1 blkio', () => {
  it('writes weights to the first scheduler file present and throttles per device', () => {
    const steps = planBlkioV1({
      weight: 500,
      leafWeight: 300,
      weightDevice: [{ major: 8, minor: 0, weight: 200, leafWeight: 100 }],
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
      throttleWriteBpsDevice: [{ major: 8, minor: 16, rate: 0 }],
      throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
      throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 50 }],
    });
    assert.deepEqual(show(steps), [
      '[blkio.weight=500 / blkio.bfq.weight=500]',
      'blkio.leaf_weight=300',
      '[blkio.weight_device=8:0 200 / blkio.bfq.weight_device=8:0 200]',
      'blkio.leaf_weight_device=8:0 100',
      'blkio.throttle.read_bps_device=8:0 1048576',
      'blkio.throttle.write_bps_device=8:16 0',
      'blkio.throttle.read_iops_device=8:0 100',
      'blkio.throttle.write_iops_device=8:0 50',
    ]);
  });
  it('refuses weights outside 10..1000', () => {
    assert.throws(() => planBlkioV1({ weight: 5 }), isResourceError);
    assert.throws(() => planBlkioV1({ weight: 1001 }), isResourceError);
  });
});

describe('v1 hugetlb', () => {
  it('writes one limit per page size', () => {
    assert.deepEqual(show(planHugetlbV1([{ pageSize: '2MB', limit: 4194304 }, { pageSize: '1GB', limit: 0 }])), [
      'hugetlb.2MB.limit_in_bytes=4194304',
      'hugetlb.1GB.limit_in_bytes=0',
    ]);
    assert.throws(() => planHugetlbV1([{ pageSize: '../2MB', limit: 1 }]), isResourceError);
  });
});

describe('v1 devices', () => {
  it('denies everything first, then writes each rule in order', () => {
    const steps = planDevicesV1([
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
      { allow: true, type: 'c', major: 136, access: 'rw' },
      { allow: false, type: 'b', major: 8, minor: 0, access: 'w' },
      { allow: true },
    ]);
    assert.deepEqual(show(steps), [
      'devices.deny=a',
      'devices.deny=a',
      'devices.allow=c 1:3 rwm',
      'devices.allow=c 136:* rw',
      'devices.deny=b 8:0 w',
      'devices.allow=a',
    ]);
    assert.deepEqual(planDevicesV1(undefined), []);
  });
});

describe('v1 net_cls and net_prio', () => {
  it('writes the class id and one ifpriomap line per interface', () => {
    assert.deepEqual(show(planNetClsV1({ classID: 0x100001 })), ['net_cls.classid=1048577']);
    assert.deepEqual(show(planNetPrioV1({ priorities: [{ name: 'eth0', priority: 5 }, { name: 'lo', priority: 1 }] })), [
      'net_prio.ifpriomap=eth0 5',
      'net_prio.ifpriomap=lo 1',
    ]);
    assert.throws(() => planNetPrioV1({ priorities: [{ name: 'eth0 1\nlo', priority: 5 }] }), isResourceError);
  });
});
