import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitPsArgv, splitUpdateArgv } from './cgroup-commands.js';

test('ps: options after the id go to ps(1) verbatim', () => {
  assert.deepEqual(splitPsArgv(['--root', '/r', 'ps', 'c1']), { format: 'table', id: 'c1', psArgs: [] });
  assert.deepEqual(splitPsArgv(['ps', '-f', 'json', 'c1']), { format: 'json', id: 'c1', psArgs: [] });
  assert.deepEqual(splitPsArgv(['ps', '--format=json', 'c1', '-ef']), { format: 'json', id: 'c1', psArgs: ['-ef'] });
  assert.deepEqual(splitPsArgv(['ps', 'c1', '-o', 'pid,comm', '-f']), { format: 'table', id: 'c1', psArgs: ['-o', 'pid,comm', '-f'] });
  assert.deepEqual(splitPsArgv(['--root', 'ps', 'ps', 'c1']), { format: 'table', id: 'c1', psArgs: [] }, 'a global option value named ps');
});

test('update: `--resources -` keeps the id, wherever it stands', () => {
  assert.deepEqual(splitUpdateArgv(['--root', '/r', 'update', '--resources', '-', 'c1']), { id: 'c1', resources: '-', extra: [] });
  assert.deepEqual(splitUpdateArgv(['update', 'c1', '-r', '-']), { id: 'c1', resources: '-', extra: [] });
  assert.deepEqual(splitUpdateArgv(['update', '--memory', '-1', '--pids-limit', '5', 'c1']), { id: 'c1', resources: undefined, extra: [] });
  assert.deepEqual(splitUpdateArgv(['--debug', 'update', '--debug', '--resources=/tmp/r.json', 'c1', 'x']), { id: 'c1', resources: '/tmp/r.json', extra: ['x'] });
});
