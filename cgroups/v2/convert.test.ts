import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KapselError } from '../../common/errors.js';
import { blkioWeightToIoWeight, cpuSharesToWeight, memorySwapToV2 } from './convert.js';

describe('cpu shares → cpu.weight (runc >= 1.3.2, crun >= 1.23)', () => {
  it('maps the table of opencontainers/cgroups utils_test.go and runc#4896', () => {
    const table: [number, number][] = [
      [0, 0], // unset stays unset
      [1, 1], // below the v1 minimum
      [2, 1], // v1 minimum → v2 minimum
      [3, 2],
      [100, 17],
      [512, 59],
      [1024, 100], // default → default
      [2000, 170], // runc#4896: 170 (the old linear formula gave 77)
      [4096, 303],
      [262143, 10000],
      [262144, 10000], // v1 maximum → v2 maximum
      [262145, 10000],
    ];
    for (const [shares, weight] of table) assert.equal(cpuSharesToWeight(shares), weight, `shares ${shares}`);
  });

  it('is monotonic over the v1 range', () => {
    let last = 0;
    for (let s = 2; s <= 262144; s += 97) {
      const w = cpuSharesToWeight(s);
      assert.ok(w >= last && w >= 1 && w <= 10000, `shares ${s}`);
      last = w;
    }
  });
});

describe('blkio weight → io.weight', () => {
  it('maps 10..1000 linearly onto 1..10000', () => {
    assert.equal(blkioWeightToIoWeight(0), 0);
    assert.equal(blkioWeightToIoWeight(10), 1);
    assert.equal(blkioWeightToIoWeight(100), 910);
    assert.equal(blkioWeightToIoWeight(500), 4950);
    assert.equal(blkioWeightToIoWeight(1000), 10000);
  });
});

describe('runtime-spec swap (memory+swap) → memory.swap.max', () => {
  it('converts like runc ConvertMemorySwapToCgroupV2Value', () => {
    const cases: [swap: number, limit: number, want: number][] = [
      [0, 0, 0],
      [-1, 0, -1],
      [-1, -1, -1],
      [0, -1, -1], // unlimited memory with swap unset: unlimited swap too
      [-1, 1000, -1],
      [1000, 1000, 0], // equal: no swap
      [500, 200, 300],
      [4096, -1, 4096], // unlimited memory: swap as is
    ];
    for (const [swap, limit, want] of cases) assert.equal(memorySwapToV2(swap, limit), want, `swap ${swap} limit ${limit}`);
  });

  it('refuses a swap total below the limit, or without a limit', () => {
    const resourceError = (e: unknown) => e instanceof KapselError && e.code === 'ERR_CGROUP_RESOURCES';
    assert.throws(() => memorySwapToV2(300, 400), resourceError);
    assert.throws(() => memorySwapToV2(300, 0), resourceError);
    assert.throws(() => memorySwapToV2(300, -2), resourceError);
  });
});
