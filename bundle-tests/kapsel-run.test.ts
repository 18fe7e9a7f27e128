// `kapsel run` of the embedded busybox image on a store and state root of the test's own.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, cgroupsNamed, mountsUnder } from './helpers.js';

const KAPSEL = join(REPO, 'bin', 'kapsel');
const store = mkdtempSync(join(tmpdir(), 'kapsel-store-'));
const state = mkdtempSync(join(tmpdir(), 'kapsel-state-'));
after(() => {
  rmSync(store, { recursive: true, force: true });
  rmSync(state, { recursive: true, force: true });
});

function kapsel(args: string[]) {
  const r = spawnSync(KAPSEL, args, { env: { ...process.env, KAPSEL_STORE: store, KAPSEL_STATE: state }, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

test('kapsel run --rm busybox echo hello works with no registry (the image is built locally)', () => {
  const r = kapsel(['run', '--rm', '--name', 'hello1', 'busybox', 'echo', 'hello']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'hello\n');
  assert.equal(existsSync(join(store, 'containers', 'hello1')), false, '--rm removes the container');
  assert.deepEqual(mountsUnder(store), []);
  assert.deepEqual(cgroupsNamed('hello1'), []);
});

test('the command\'s own flags, -e, exit status and the image user pass through', () => {
  const r = kapsel(['run', '--rm', '--name', 'flags1', '-e', 'A=1', '-e', 'B=2', 'busybox', 'sh', '-c', 'echo $A$B; id -un; exit 5']);
  assert.equal(r.status, 5, r.stderr);
  assert.equal(r.stdout, '12\nroot\n');
});

test('docker\'s exit codes for kapsel\'s own errors: 125 unknown image, 127 command not found', () => {
  const unknown = kapsel(['run', '--rm', 'no/such-image', 'true']);
  assert.equal(unknown.status, 125);
  assert.match(unknown.stderr, /image `docker\.io\/no\/such-image:latest` is not in the image store/);
  const missing = kapsel(['run', '--rm', '--name', 'missing1', 'busybox', 'nosuchcmd']);
  assert.equal(missing.status, 127);
  assert.match(missing.stderr, /nosuchcmd/);
  assert.deepEqual(cgroupsNamed('missing1'), []);
});
