import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMemoryBytes, resourcesFromFlags, resourcesFromJson } from './update.js';

test('memory sizes use binary units like docker\'s RAMInBytes; -1 is unlimited', () => {
  assert.equal(parseMemoryBytes('--memory', '64m'), 64 * 1024 * 1024);
  assert.equal(parseMemoryBytes('--memory', '1G'), 1024 ** 3);
  assert.equal(parseMemoryBytes('--memory', '512KiB'), 512 * 1024);
  assert.equal(parseMemoryBytes('--memory', '1.5g'), 1.5 * 1024 ** 3);
  assert.equal(parseMemoryBytes('--memory', '1000'), 1000);
  assert.equal(parseMemoryBytes('--memory', '-1'), -1);
  assert.throws(() => parseMemoryBytes('--memory', 'lots'), /invalid value for --memory/);
  assert.throws(() => parseMemoryBytes('--memory', '-5m'), /invalid value/);
});

test('flags become resources; absent and zero flags leave values alone', () => {
  assert.deepEqual(resourcesFromFlags({}), {});
  assert.deepEqual(resourcesFromFlags({ memory: '64m', memorySwap: '-1', cpuShares: '512', cpuQuota: '50000', cpusetCpus: '0-1', pidsLimit: '-1', blkioWeight: '300' }), {
    memory: { limit: 64 * 1024 * 1024, swap: -1 },
    cpu: { shares: 512, quota: 50000, cpus: '0-1' },
    pids: { limit: -1 },
    blockIO: { weight: 300 },
  });
  assert.deepEqual(resourcesFromFlags({ pidsLimit: '0' }), {}, 'pids 0 = unchanged (not max)');
  assert.throws(() => resourcesFromFlags({ cpuQuota: 'half' }), /invalid value for --cpu-quota/);
  const warnings: string[] = [];
  resourcesFromFlags({ kernelMemory: '1g' }, (m) => warnings.push(m));
  assert.match(warnings[0] ?? '', /kernel memory settings are ignored/);
});

test('--resources JSON takes runc\'s fields and ignores what update cannot change', () => {
  const r = resourcesFromJson(JSON.stringify({
    memory: { limit: 1048576, swap: 0, checkBeforeUpdate: true },
    cpu: { shares: 0, quota: 20000, period: 100000, cpus: '' },
    blockIO: { weight: 0, weightDevice: [{ major: 8, minor: 0, weight: 10 }] },
    pids: { limit: 0 },
    devices: [{ allow: true }],
    unified: { 'memory.high': '1000000' },
  }));
  assert.deepEqual(r, {
    memory: { limit: 1048576, swap: 0, checkBeforeUpdate: true },
    cpu: { shares: 0, quota: 20000, period: 100000, cpus: '' },
    blockIO: { weight: 0 },
    unified: { 'memory.high': '1000000' },
  });
  assert.throws(() => resourcesFromJson('[]'), /want a JSON object/);
  assert.throws(() => resourcesFromJson('{"memory":{"limit":"1g"}}'), /`limit` must be a number/);
  assert.throws(() => resourcesFromJson('{'), /decode resources/);
});
