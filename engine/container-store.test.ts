import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordingSyscalls } from '../sys/recording-syscalls.js';
import { ContainerStore, newContainerId } from './container-store.js';

const root = mkdtempSync(join(tmpdir(), 'kapsel-ctrstore-'));
after(() => rmSync(root, { recursive: true, force: true }));

function record(id: string, name: string) {
  return { id, name, created: '', config: {}, hostConfig: {}, startedAt: '', finishedAt: '', exitCode: 0, oomKilled: false, restartCount: 0, manuallyStopped: false, monitorPid: 0, monitorStartTime: '', pid: 0, state: 'created', error: '' } as never;
}

test('names are unique; containers resolve by name, full id and unique prefix', () => {
  const store = new ContainerStore(join(root, 'a'), recordingSyscalls());
  const a = `aa${newContainerId().slice(2)}`;
  const b = `ab${newContainerId().slice(2)}`;
  store.claim(a, 'first');
  store.write(record(a, 'first'));
  store.claim(b, 'second');
  store.write(record(b, 'second'));
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.throws(() => store.claim(newContainerId(), 'first'), /the container name `first` is already in use by container aa/);
  assert.equal(store.resolve('first'), a);
  assert.equal(store.resolve(b), b);
  assert.equal(store.resolve('ab'), b);
  assert.throws(() => store.resolve('a'), /container id prefix `a` matches 2 containers/);
  assert.throws(() => store.resolve('nope'), /container `nope` does not exist/);
  assert.throws(() => store.claim(newContainerId(), '-bad'), /invalid container name/);
  store.remove(a, 'first');
  assert.throws(() => store.resolve('first'), /container `first` does not exist/);
  const again = newContainerId();
  store.claim(again, 'first');
  store.write(record(again, 'first'));
  assert.equal(store.resolve('first'), again, 'a removed container frees its name');
});

test('a create that died before its record is an orphan (after a grace period) that frees its name when removed', () => {
  const store = new ContainerStore(join(root, 'b'), recordingSyscalls());
  const dead = newContainerId();
  store.claim(dead, 'half');
  const live = newContainerId();
  store.claim(live, 'whole');
  store.write(record(live, 'whole'));
  assert.deepEqual(store.orphans(60_000), [], 'a create in progress is left alone');
  assert.deepEqual(store.orphans(0), [{ id: dead, name: 'half' }]);
  for (const o of store.orphans(0)) store.remove(o.id, o.name);
  const again = newContainerId();
  store.claim(again, 'half');
  assert.deepEqual(store.orphans(0).map((o) => o.id), [again]);
});
