/** Exact steps each v2 controller plans (pure: no filesystem). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KapselError } from '../../common/errors.js';
import type { CgroupStep } from '../cgroup-plan.js';
import { neededControllers, planEnableControllers } from './controllers.js';
import { planCpuV2 } from './cpu.js';
import { planCpusetV2 } from './cpuset.js';
import { planHugetlbV2 } from './hugetlb.js';
import { planIoV2 } from './io.js';
import { planMemoryV2 } from './memory.js';
import { checkUnifiedKey, planUnified } from './unified.js';

function show(steps: readonly CgroupStep[]): string[] {
  const one = (s: { file: string; value: string; ifExists?: boolean }) => `${s.file}=${s.value}${s.ifExists === true ? '?' : ''}`;
  return steps.map((s) => (s.op === 'write' ? one(s) : s.op === 'write-pair' ? `(${one(s.first)} | ${one(s.second)})` : `[${s.choices.map(one).join(' / ')}]`));
}

const isResourceError = (e: unknown) => e instanceof KapselError && e.code === 'ERR_CGROUP_RESOURCES';

describe('v2 cpu', () => {
  it('converts shares and writes cpu.max as `quota period`', () => {
    assert.deepEqual(show(planCpuV2({ shares: 1024, quota: 50000, period: 100000, idle: 1 })), ['cpu.weight=100', 'cpu.max=50000 100000', 'cpu.idle=1']);
    assert.deepEqual(show(planCpuV2({ quota: -1, period: 200000 })), ['cpu.max=max 200000']);
    assert.deepEqual(show(planCpuV2({ quota: 20000 })), ['cpu.max=20000']);
  });
  it('pairs burst with cpu.max (burst <= quota at every instant)', () => {
    assert.deepEqual(show(planCpuV2({ quota: 50000, period: 100000, burst: 10000 })), ['(cpu.max.burst=10000 | cpu.max=50000 100000)']);
    assert.deepEqual(show(planCpuV2({ burst: 0 })), ['cpu.max.burst=0']);
  });
  it('refuses realtime settings', () => {
    assert.throws(() => planCpuV2({ realtimeRuntime: 1000 }), isResourceError);
  });
});

describe('v2 cpuset', () => {
  it('writes cpus and mems as given', () => {
    assert.deepEqual(show(planCpusetV2({ cpus: '1', mems: '0-1' })), ['cpuset.cpus=1', 'cpuset.mems=0-1']);
  });
});

describe('v2 memory', () => {
  it('converts swap (memory+swap) to swap alone and writes it first', () => {
    assert.deepEqual(show(planMemoryV2({ limit: 1 << 26, swap: 1 << 27, reservation: 1 << 25 })), [
      'memory.swap.max=67108864',
      'memory.max=67108864',
      'memory.low=33554432',
    ]);
  });
  it('writes max for -1, 0 swap when swap equals the limit, and skips absent swap files for those', () => {
    assert.deepEqual(show(planMemoryV2({ limit: -1 })), ['memory.swap.max=max?', 'memory.max=max']);
    assert.deepEqual(show(planMemoryV2({ limit: 4096, swap: 4096 })), ['memory.swap.max=0?', 'memory.max=4096']);
    assert.deepEqual(show(planMemoryV2({ limit: 4096 })), ['memory.max=4096']);
  });
});

describe('v2 io', () => {
  it('tries io.bfq.weight with the raw weight, then io.weight converted', () => {
    assert.deepEqual(show(planIoV2({ weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 100 }] })), [
      '[io.bfq.weight=500 / io.weight=4950]',
      '[io.bfq.weight=8:0 100 / io.weight=8:0 910]',
    ]);
  });
  it('writes throttles to io.max, 0 meaning max', () => {
    const steps = planIoV2({
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
      throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 0 }],
      throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
      throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 50 }],
    });
    assert.deepEqual(show(steps), ['io.max=8:0 rbps=1048576', 'io.max=8:0 wbps=max', 'io.max=8:0 riops=100', 'io.max=8:0 wiops=50']);
  });
});

describe('v2 hugetlb and unified', () => {
  it('writes hugetlb.<size>.max', () => {
    assert.deepEqual(show(planHugetlbV2([{ pageSize: '2MB', limit: 2097152 }])), ['hugetlb.2MB.max=2097152']);
  });
  it('writes unified keys verbatim and refuses path-like keys', () => {
    assert.deepEqual(show(planUnified({ 'memory.high': '1G', 'cgroup.max.depth': '2' })), ['memory.high=1G', 'cgroup.max.depth=2']);
    for (const bad of ['../memory.max', 'a/b.c', 'memory..max', '', 'memory', '.memory.max']) {
      assert.throws(() => checkUnifiedKey(bad), isResourceError, bad);
    }
  });
});

describe('v2 controller delegation', () => {
  it('derives the controllers the resources need', () => {
    const needed = neededControllers({
      cpu: { shares: 512, cpus: '0' },
      memory: { kernel: 1 }, // ignored field: no controller
      pids: { limit: 5 },
      blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1 }] },
      hugepageLimits: [{ pageSize: '2MB', limit: 0 }],
      unified: { 'misc.max': 'x 1', 'cgroup.max.depth': '3' },
      devices: [{ allow: true }],
    });
    assert.deepEqual([...needed].sort(), ['cpu', 'cpuset', 'hugetlb', 'io', 'misc', 'pids']);
  });
  it('enables each missing controller top-down, failing when the root lacks one', () => {
    const ancestors = [
      { path: '/sys/fs/cgroup', available: ['cpu', 'memory', 'pids'], enabled: ['cpu'] },
      { path: '/sys/fs/cgroup/kapsel', available: ['cpu'], enabled: [] },
    ];
    assert.deepEqual(planEnableControllers(ancestors, new Set(['memory', 'cpu'])), [
      { path: '/sys/fs/cgroup', value: '+memory' },
      { path: '/sys/fs/cgroup/kapsel', value: '+cpu' },
      { path: '/sys/fs/cgroup/kapsel', value: '+memory' },
    ]);
    assert.throws(
      () => planEnableControllers(ancestors, new Set(['io'])),
      (e: unknown) => e instanceof KapselError && e.code === 'ERR_CGROUP_CONTROLLER_MISSING' && /io not available/.test(e.message),
    );
  });
});
