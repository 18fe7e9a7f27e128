import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeEvent, parseIntervalMs, runcStats } from './events.js';

test('intervals are Go durations; a bare number is seconds', () => {
  assert.equal(parseIntervalMs('5s'), 5000);
  assert.equal(parseIntervalMs('250ms'), 250);
  assert.equal(parseIntervalMs('1m30s'), 90_000);
  assert.equal(parseIntervalMs('2'), 2000);
  assert.throws(() => parseIntervalMs('0s'), /greater than 0/);
  assert.throws(() => parseIntervalMs('5 seconds'), /invalid duration/);
});

test('stats render in runc\'s event shape; unlimited memory is MaxUint64, exactly', () => {
  const stats = {
    cpu: { usageTotalNs: 30, usageUserNs: 10, usageSystemNs: 20, throttling: { periods: 4, throttledPeriods: 1, throttledTimeNs: 7 } },
    memory: { usageBytes: 100, maxUsageBytes: 150, limitBytes: null, cacheBytes: 5, swapUsageBytes: 3, oomKills: 0 },
    pids: { current: 2, limit: null },
    blockIO: { devices: [{ major: 8, minor: 0, readBytes: 1, writeBytes: 2, readOps: 3, writeOps: 4 }] },
    hugetlb: { '2MB': { usageBytes: 0, maxUsageBytes: undefined } },
  };
  const data = runcStats(stats) as Record<string, Record<string, unknown>>;
  assert.deepEqual(data['cpu'], { usage: { total: 30, kernel: 20, user: 10 }, throttling: { periods: 4, throttledPeriods: 1, throttledTime: 7 } });
  assert.deepEqual(data['pids'], { current: 2, limit: 0 });
  assert.deepEqual((data['blkio']!['ioServiceBytesRecursive'] as unknown[])[2], { major: 8, minor: 0, op: 'Total', value: 3 });
  const line = encodeEvent({ type: 'stats', id: 'c', stats });
  assert.ok(line.endsWith('\n'));
  assert.match(line, /"usage":\{"limit":18446744073709551615,"usage":100,"max":150,"failcnt":0\}/);
  assert.match(line, /"swap":\{"usage":103/);
  assert.equal(encodeEvent({ type: 'oom', id: 'c' }), '{"type":"oom","id":"c"}\n');
});
