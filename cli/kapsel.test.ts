import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitRunArgs } from './kapsel-args.js';

test('run: options end at the image; the command keeps its own flags', () => {
  assert.deepEqual(splitRunArgs(['run', '--rm', '-e', 'A=1', '-v', '/a:/b', '--name', 'x', 'busybox', 'sh', '-c', 'echo -e hi']), {
    head: ['run', '--rm', '-e', 'A=1', '-v', '/a:/b', '--name', 'x', 'busybox'],
    command: ['sh', '-c', 'echo -e hi'],
  });
  assert.deepEqual(splitRunArgs(['run', '-it', '--memory=64m', 'busybox']), { head: ['run', '-it', '--memory=64m', 'busybox'], command: [] });
});

test('exec: options end at the container', () => {
  assert.deepEqual(splitRunArgs(['exec', '-e', 'X=1', '-u', '0', 'web', 'ls', '-l']), { head: ['exec', '-e', 'X=1', '-u', '0', 'web'], command: ['ls', '-l'] });
  assert.deepEqual(splitRunArgs(['ps', '-a']), { head: ['ps', '-a'], command: [] });
});
