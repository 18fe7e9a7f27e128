// The image verbs through the built `kapsel` binary: images, tag, save, load, inspect, rmi
// (refused while a container uses the image), image prune. Store and state of the test's own.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, mountsUnder } from './helpers.js';

const KAPSEL = join(REPO, 'bin', 'kapsel');
const store = mkdtempSync(join(tmpdir(), 'kapsel-img-store-'));
const state = mkdtempSync(join(tmpdir(), 'kapsel-img-state-'));
const files = mkdtempSync(join(tmpdir(), 'kapsel-img-files-'));
after(() => {
  for (const m of mountsUnder(store).reverse()) spawnSync('umount', ['-l', m]);
  for (const d of [store, state, files]) rmSync(d, { recursive: true, force: true });
});

function kapsel(args: string[]) {
  const r = spawnSync(KAPSEL, args, { env: { ...process.env, KAPSEL_STORE: store, KAPSEL_STATE: state }, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

test('images, tag, save/load in both formats, inspect, rmi, prune', () => {
  assert.equal(kapsel(['run', '--rm', 'busybox', 'true']).status, 0);
  assert.equal(kapsel(['tag', 'busybox', 'local/box:v1']).status, 0);
  const list = kapsel(['images', '--format', 'json']).stdout.trim().split('\n').map((l) => JSON.parse(l) as { Repository: string; Tag: string; ID: string });
  assert.deepEqual(list.map((r) => `${r.Repository}:${r.Tag}`).sort(), ['busybox:latest', 'local/box:v1']);
  assert.equal(new Set(list.map((r) => r.ID)).size, 1);
  const id = list[0]!.ID;
  assert.equal(kapsel(['images', '-q']).stdout, `${id.slice(7, 19)}\n`);
  const oci = join(files, 'box.tar');
  const docker = join(files, 'box.docker.tar');
  assert.equal(kapsel(['save', '-o', oci, 'local/box:v1']).status, 0);
  assert.equal(kapsel(['save', '--format', 'docker-archive', '-o', docker, 'local/box:v1']).status, 0);
  const rmi = kapsel(['rmi', 'local/box:v1', 'busybox']);
  assert.equal(rmi.status, 0, rmi.stderr);
  assert.match(rmi.stdout, /Untagged: local\/box:v1\nUntagged: busybox:latest\nDeleted: sha256:/);
  assert.deepEqual(readdirSync(join(store, 'blobs', 'sha256')), []);
  assert.equal(kapsel(['load', '-i', docker]).stdout, 'Loaded image: local/box:v1\n');
  assert.equal(kapsel(['load', '-i', oci]).stdout, 'Loaded image: local/box:v1\n');
  const inspect = JSON.parse(kapsel(['inspect', 'local/box:v1']).stdout) as Array<{ Id: string; RepoTags: string[]; Os: string }>;
  assert.equal(inspect[0]!.Id, id);
  assert.deepEqual(inspect[0]!.RepoTags, ['local/box:v1']);
  // a container (kept, not --rm) uses the image: rmi refuses without -f
  assert.equal(kapsel(['run', '--name', 'img-user', 'local/box:v1', 'true']).status, 0);
  const refused = kapsel(['rmi', 'local/box:v1']);
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /used by container `img-user`/);
  const bad = kapsel(['load', '-i', join(files, 'missing.tar')]);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /image archive `.*missing\.tar`: no such file or directory/);
  assert.equal(kapsel(['image', 'prune', '--grace', '0']).status, 0);
  assert.equal(kapsel(['images', '-q']).stdout, `${id.slice(7, 19)}\n`, 'prune keeps named images');
  assert.ok(existsSync(join(store, 'snapshots')));
});
