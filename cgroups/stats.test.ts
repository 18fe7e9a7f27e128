import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hugepageSizesFromFiles, parseFlatKeyed, parseLimit, parseNestedKeyed } from './stats.js';

describe('cgroup file parsers', () => {
  it('reads limits, with max and the v1 sentinel as null', () => {
    assert.equal(parseLimit('max\n'), null);
    assert.equal(parseLimit('9223372036854771712\n'), null);
    assert.equal(parseLimit('67108864\n'), 67108864);
    assert.equal(parseLimit(undefined), null);
  });

  it('reads flat and nested keyed files', () => {
    const flat = parseFlatKeyed('usage_usec 22\nuser_usec 20\n\nbad\n');
    assert.deepEqual([...flat], [['usage_usec', 22], ['user_usec', 20]]);
    const nested = parseNestedKeyed('8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n254:0 rbytes=1\n');
    assert.equal(nested.get('8:0')?.get('rbytes'), 4096);
    assert.equal(nested.get('254:0')?.get('rbytes'), 1);
  });

  it('finds huge page sizes from file names', () => {
    const files = ['hugetlb.2MB.max', 'hugetlb.2MB.current', 'hugetlb.1GB.current', 'hugetlb.2MB.rsvd.current', 'cgroup.procs'];
    assert.deepEqual(hugepageSizesFromFiles(files, 'hugetlb.', '.current'), ['1GB', '2MB']);
  });
});
