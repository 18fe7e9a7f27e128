// bin/kapsel-runtime (native/front.c) hands start/state/kill/delete to `kapsel-runtime daemon`
// when one serves the socket in the same namespaces, and runs Node itself otherwise: results,
// output and exit statuses are the same either way.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFactory, leftovers, sleepMs, RUNTIME, type Bundle } from './helpers.js';

const { bundle, cleanupAll } = bundleFactory();
const dir = mkdtempSync(join(tmpdir(), 'kapsel-perf-daemon-'));
const SOCKET = join(dir, 'daemon.sock');
const daemons: ChildProcess[] = [];

after(async () => {
  for (const d of daemons) {
    if (d.exitCode === null && d.signalCode === null) {
      d.kill('SIGKILL');
      await new Promise((r) => d.once('exit', r));
    }
  }
  cleanupAll();
  rmSync(dir, { recursive: true, force: true });
  assert.equal(existsSync(dir), false);
});

async function startDaemon(socket = SOCKET, extra: string[] = []): Promise<ChildProcess> {
  const d = spawn(RUNTIME, ['daemon', '--socket', socket, ...extra], { stdio: 'ignore' });
  daemons.push(d);
  for (let i = 0; i < 500 && !existsSync(socket); i++) await sleepMs(10);
  assert.ok(existsSync(socket), 'the daemon listens');
  return d;
}

interface Result { status: number | null; stdout: string; stderr: string }

/** Runs the front with pipes for stdout/stderr: spawnSync returns only once every copy is closed. */
function front(args: string[], opts: { cwd?: string; socket?: string; prefix?: string[] } = {}): Result {
  const argv = [...(opts.prefix ?? []), RUNTIME, ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), {
    cwd: opts.cwd ?? dir,
    env: { ...process.env, KAPSEL_RUNTIME_DAEMON_SOCKET: opts.socket ?? SOCKET },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 30_000,
  });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

const servedByDaemon = (r: Result): boolean => r.stderr.includes('arguments parsed (daemon)');

function create(b: Bundle, id: string): void {
  const r = front(['--root', b.root, 'create', '--bundle', b.dir, id]);
  assert.equal(r.status, 0, r.stderr);
}

test('start, state, kill and delete go to the daemon; outputs and statuses are the same as without it', async () => {
  const d = await startDaemon();
  const b = bundle(['sleep', '100']);
  const id = `perf-d-${process.pid}`;
  create(b, id);

  const viaDaemon = front(['--root', b.root, '--debug', 'state', id]);
  assert.equal(viaDaemon.status, 0, viaDaemon.stderr);
  assert.ok(servedByDaemon(viaDaemon), viaDaemon.stderr);
  const direct = front(['--root', b.root, 'state', id], { socket: join(dir, 'none.sock') });
  assert.equal(direct.status, 0);
  assert.deepEqual(JSON.parse(viaDaemon.stdout), JSON.parse(direct.stdout));
  assert.equal(JSON.parse(viaDaemon.stdout).status, 'created');

  assert.equal(front(['--root', b.root, 'start', id]).status, 0);
  assert.equal(JSON.parse(front(['--root', b.root, 'state', id]).stdout).status, 'running');

  const busy = front(['--root', b.root, 'delete', id]);
  assert.equal(busy.status, 1);
  assert.match(busy.stderr, /^kapsel-runtime: .*not stopped: running/m);

  assert.equal(front(['--root', b.root, 'kill', id, 'KILL']).status, 0);
  let s = '';
  for (let i = 0; i < 200 && s !== 'stopped'; i++, await sleepMs(20)) s = JSON.parse(front(['--root', b.root, 'state', id]).stdout).status;
  assert.equal(s, 'stopped');
  const del = front(['--root', b.root, '--debug', 'delete', id]);
  assert.equal(del.status, 0, del.stderr);
  assert.ok(servedByDaemon(del));

  const gone = front(['--root', b.root, 'state', id]);
  assert.equal(gone.status, 1);
  assert.equal(gone.stderr, `kapsel-runtime: container ${id} does not exist\n`);
  assert.deepEqual(leftovers(b, id), []);

  // the daemon holds no fd or directory of a caller between requests (only /dev/null on 0-2, cwd /)
  assert.equal(readlinkSync(`/proc/${d.pid}/cwd`), '/');
  const fds = readdirSync(`/proc/${d.pid}/fd`).map((fd) => readlinkSync(`/proc/${d.pid}/fd/${fd}`));
  assert.deepEqual(['0', '1', '2'].map((fd) => readlinkSync(`/proc/${d.pid}/fd/${fd}`)), ['/dev/null', '/dev/null', '/dev/null']);
  assert.equal(fds.filter((f) => f.startsWith(b.dir) || f.startsWith(b.root)).length, 0, fds.join(' '));
});

test("relative paths are the caller's: --root resolves in the caller's cwd", async () => {
  await startDaemon();
  const b = bundle(['sleep', '100']);
  const id = `perf-rel-${process.pid}`;
  mkdirSync(join(b.dir, 'relroot'));
  const r = front(['--root', 'relroot', 'create', '--bundle', '.', id], { cwd: b.dir });
  assert.equal(r.status, 0, r.stderr);
  const st = front(['--root', 'relroot', '--debug', 'state', id], { cwd: b.dir });
  assert.equal(st.status, 0, st.stderr);
  assert.ok(servedByDaemon(st));
  assert.equal(JSON.parse(st.stdout).id, id);
  const del = front(['--root', 'relroot', 'delete', '--force', id], { cwd: b.dir });
  assert.equal(del.status, 0, del.stderr);
  assert.equal(existsSync(join(b.dir, 'relroot', id)), false);
});

test('command lines the daemon does not take, and callers in another mount namespace, run Node', async () => {
  await startDaemon();
  const usage = front(['--debug', 'state']);
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /Not enough non-option arguments/);
  assert.equal(servedByDaemon(usage), false);

  const help = front(['kill', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /send a signal/);

  const other = front(['--root', dir, '--debug', 'state', 'nosuch'], { prefix: ['unshare', '-m'] });
  assert.equal(other.status, 1);
  assert.match(other.stderr, /container nosuch does not exist/);
  assert.equal(servedByDaemon(other), false, 'a private mount namespace sees other files: no daemon');
});

test('a dead daemon (stale socket) and an idle one that exits: the front runs Node', async () => {
  const socket = join(dir, 'idle.sock');
  const d = await startDaemon(socket, ['--idle-timeout', '3']);
  const served = front(['--root', dir, '--debug', 'state', 'nosuch'], { socket });
  assert.ok(servedByDaemon(served));
  await new Promise((r) => d.once('exit', r));
  assert.equal(d.exitCode, 0, 'an idle daemon exits by itself');
  assert.equal(existsSync(socket), false, 'and removes its socket');

  const d2 = await startDaemon(socket);
  d2.kill('SIGKILL');
  await new Promise((r) => d2.once('exit', r));
  assert.ok(existsSync(socket), 'a killed daemon leaves its socket');
  const r = front(['--root', dir, '--debug', 'state', 'nosuch'], { socket });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /container nosuch does not exist/);
  assert.equal(servedByDaemon(r), false);
});

test('a second daemon on the same socket is refused', async () => {
  const socket = join(dir, 'twice.sock');
  await startDaemon(socket);
  const r = spawnSync(RUNTIME, ['daemon', '--socket', socket], { timeout: 30_000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr.toString(), /another kapsel-runtime daemon serves/);
});
