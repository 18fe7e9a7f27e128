// `kapsel run` on overlay snapshots: one unpack per layer for many containers, private writes,
// and `--rm` leaves no mount and no upper directory. Store and state roots of the test's own.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, mountsUnder } from './helpers.js';

const KAPSEL = join(REPO, 'bin', 'kapsel');
const store = mkdtempSync(join(tmpdir(), 'kapsel-snap-store-'));
const state = mkdtempSync(join(tmpdir(), 'kapsel-snap-state-'));
after(() => {
  for (const m of mountsUnder(store).reverse()) spawnSync('umount', ['-l', m]);
  rmSync(store, { recursive: true, force: true });
  rmSync(state, { recursive: true, force: true });
});

function kapsel(args: string[]) {
  const r = spawnSync(KAPSEL, args, { env: { ...process.env, KAPSEL_STORE: store, KAPSEL_STATE: state }, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

const snapshots = (): string[] => readdirSync(join(store, 'snapshots')).filter((n) => !n.startsWith('.'));

test('containers of one image share its layer snapshots; writes stay private; --rm leaves no mount or upper dir', () => {
  const keep = kapsel(['run', '--name', 'snap-keep', 'busybox', 'sh', '-c', 'echo mine > /written; cat /written']);
  assert.equal(keep.status, 0, keep.stderr);
  assert.equal(keep.stdout, 'mine\n');
  assert.equal(snapshots().length, 1);
  const keepDir = join(store, 'containers', (JSON.parse(kapsel(['inspect', 'snap-keep']).stdout) as Array<{ Id: string }>)[0]!.Id);
  const record = JSON.parse(readFileSync(join(keepDir, 'rootfs.json'), 'utf8')) as { kind: string };
  assert.equal(record.kind, 'overlay');
  assert.equal(readFileSync(join(keepDir, 'upper', 'written'), 'utf8'), 'mine\n');
  const other = kapsel(['run', '--rm', '--name', 'snap-other', 'busybox', 'sh', '-c', 'test -e /written && echo seen || echo unseen']);
  assert.equal(other.status, 0, other.stderr);
  assert.equal(other.stdout, 'unseen\n');
  assert.equal(snapshots().length, 1, 'the second container unpacked nothing');
  assert.deepEqual(readdirSync(join(store, 'containers')).filter((n) => /^[0-9a-f]{64}$/.test(n)), [keepDir.slice(-64)], 'the --rm container is gone');
  assert.deepEqual(mountsUnder(store), [join(keepDir, 'rootfs')], 'only the kept container is mounted');
});

test('--rm containers get a volatile overlay (no sync of writes thrown away); kept containers do not', () => {
  const rootOptions = (args: string[]): string => {
    const r = kapsel(['run', ...args, 'busybox', 'sh', '-c', 'echo x > /f; grep " / / " /proc/self/mountinfo']);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  assert.match(rootOptions(['--rm']), / - overlay .*volatile/);
  const kept = rootOptions(['--name', 'snap-durable']);
  assert.match(kept, / - overlay /);
  assert.doesNotMatch(kept, /volatile/);
  assert.equal(kapsel(['rm', 'snap-durable']).status, 0);
});
