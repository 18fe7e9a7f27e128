import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RootResolver, UnsafePathError, cleanEntryPath } from './safe-path.js';

const dir = mkdtempSync(join(tmpdir(), 'kapsel-safe-path-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('cleanEntryPath: leading slashes, dots and inner `..` are cleaned; escaping `..` is refused', () => {
  assert.deepEqual(cleanEntryPath('./a//b/./c/'), ['a', 'b', 'c']);
  assert.deepEqual(cleanEntryPath('/etc/passwd'), ['etc', 'passwd']);
  assert.deepEqual(cleanEntryPath('a/b/../../c'), ['c']);
  assert.deepEqual(cleanEntryPath('./'), []);
  for (const bad of ['..', '../a', 'a/../../b', '/..', 'a\0b']) assert.throws(() => cleanEntryPath(bad), UnsafePathError, bad);
});

test('resolveDir follows symlinks as if the target were `/`, creates what is missing, refuses files', () => {
  const root = join(dir, 'root');
  mkdirSync(join(root, 'usr/lib'), { recursive: true });
  symlinkSync('usr/lib', join(root, 'lib'));
  symlinkSync('/usr', join(root, 'abs'));
  symlinkSync('../../../../..', join(root, 'up'));
  writeFileSync(join(root, 'file'), '');
  const r = new RootResolver(root);
  assert.deepEqual(r.resolveDir(['lib', 'x86'], true), ['usr', 'lib', 'x86']);
  assert.deepEqual(r.resolveDir(['abs', 'lib'], false), ['usr', 'lib']);
  assert.deepEqual(r.resolveDir(['up', 'usr'], false), ['usr']);
  assert.equal(r.resolveDir(['missing', 'x'], false), undefined);
  assert.throws(() => r.resolveDir(['file', 'x'], true), /`\/file` is not a directory/);
});
