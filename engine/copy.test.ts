import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCopyArg } from './copy.js';

test('cp arguments: CONTAINER:PATH, host paths (./a:b is a host path), - for a tar stream', () => {
  assert.deepEqual(parseCopyArg('web:/etc/hostname'), { container: 'web', path: '/etc/hostname' });
  assert.deepEqual(parseCopyArg('0123abcd:rel'), { container: '0123abcd', path: 'rel' });
  assert.deepEqual(parseCopyArg('web:'), { container: 'web', path: '' });
  assert.deepEqual(parseCopyArg('/abs/a:b'), { path: '/abs/a:b' });
  assert.deepEqual(parseCopyArg('./a:b'), { path: './a:b' });
  assert.deepEqual(parseCopyArg('plain'), { path: 'plain' });
  assert.deepEqual(parseCopyArg('-'), { path: '-' });
  assert.deepEqual(parseCopyArg(':x'), { path: ':x' });
});
