import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCpuList } from './cpu-list.js';

describe('parseCpuList', () => {
  it('expands ranges into sorted unique indexes', () => {
    assert.deepEqual(parseCpuList('0-3,7'), [0, 1, 2, 3, 7]);
    assert.deepEqual(parseCpuList('5,1-2,2'), [1, 2, 5]);
    assert.deepEqual(parseCpuList('4'), [4]);
  });

  it('rejects malformed lists', () => {
    for (const text of ['', '0-', '3-1', 'a', '1,,2', '-1', '0-99999']) {
      assert.equal(parseCpuList(text), undefined, text);
    }
  });
});
