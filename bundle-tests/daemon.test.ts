// bin/kapsel-runtime (native/front.c) hands its command lines to `kapsel-runtime daemon` when
// one serves the socket in the same namespaces, and runs Node itself otherwise: results, output,
// exit statuses and the process tree are the same either way. For create/run/exec the front
// forks the stage, so the container's processes are the caller's descendants, not the daemon's.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, symlinkSync, writeFileSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFactory, cgroupsNamed, leftovers, sleepMs, REPO, RUNTIME, type Bundle } from './helpers.js';

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

/**
 * Runs the front with pipes for stdout/stderr: spawnSync returns only once every copy is closed,
 * so a daemon that kept one would hang the test. Commands whose container inherits stdio
 * (create, exec --detach) use files (`files`), or spawnSync would wait for the container.
 */
function front(args: string[], opts: { cwd?: string; socket?: string; prefix?: string[]; files?: boolean } = {}): Result {
  const argv = [...(opts.prefix ?? []), RUNTIME, ...args];
  const paths = [join(dir, `.out-${process.pid}`), join(dir, `.err-${process.pid}`)];
  const fds = opts.files ? paths.map((p) => openSync(p, 'w')) : [];
  try {
    const r = spawnSync(argv[0]!, argv.slice(1), {
      cwd: opts.cwd ?? dir,
      env: { ...process.env, KAPSEL_RUNTIME_DAEMON_SOCKET: opts.socket ?? SOCKET },
      stdio: ['ignore', fds[0] ?? 'pipe', fds[1] ?? 'pipe'],
      timeout: 30_000,
    });
    if (r.error !== undefined) throw r.error;
    if (!opts.files) return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
    return { status: r.status, stdout: readFileSync(paths[0]!, 'utf8'), stderr: readFileSync(paths[1]!, 'utf8') };
  } finally {
    fds.forEach((fd) => closeSync(fd));
    paths.forEach((p) => rmSync(p, { force: true }));
  }
}

const servedByDaemon = (r: Result): boolean => r.stderr.includes('arguments parsed (daemon)');

function create(b: Bundle, id: string): void {
  const r = front(['--root', b.root, 'create', '--bundle', b.dir, id], { files: true });
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
  const r = front(['--root', 'relroot', 'create', '--bundle', '.', id], { cwd: b.dir, files: true });
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

/** The parent pid of `pid` (/proc/<pid>/stat field 4). */
function ppidOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** Pids of live processes whose /proc/<pid>/cwd or root is inside `dir` (a container's rootfs). */
function processesIn(dir: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readlinkSync(`/proc/${p}/root`).startsWith(dir)) out.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

test('create, run and exec go to the daemon; the stage is forked by the front, not the daemon', async () => {
  const log = join(dir, 'requests.log');
  const d = await startDaemon(join(dir, 'procs.sock'), ['--request-log', log]);
  const socket = join(dir, 'procs.sock');
  const b = bundle(['sh', '-c', 'echo out; echo err >&2; exit 7']);
  const runId = `perf-run-${process.pid}`;
  const run = front(['--root', b.root, '--debug', 'run', '--bundle', b.dir, runId], { socket });
  assert.equal(run.status, 7, run.stderr);
  assert.ok(servedByDaemon(run), run.stderr);
  assert.equal(run.stdout, 'out\n');
  assert.match(run.stderr, /^err$/m);
  assert.deepEqual(leftovers(b, runId), [], 'run deletes the container after it exits (follow-up delete)');

  // create: the init's parent is what it is without a daemon (the caller's subreaper or 1)
  b.spec.process!.args = ['sleep', '100'];
  b.write();
  const id = `perf-procs-${process.pid}`;
  const created = front(['--root', b.root, '--debug', 'create', '--bundle', b.dir, id], { socket, files: true });
  assert.equal(created.status, 0, created.stderr);
  assert.ok(servedByDaemon(created));
  const state = JSON.parse(front(['--root', b.root, 'state', id], { socket }).stdout);
  assert.equal(state.status, 'created');
  assert.notEqual(ppidOf(state.pid), d.pid, 'the init is not the daemon\'s child');
  const nodeId = `perf-procs-node-${process.pid}`;
  assert.equal(front(['--root', b.root, 'create', '--bundle', b.dir, nodeId], { socket: join(dir, 'none.sock'), files: true }).status, 0);
  const nodeInit = JSON.parse(front(['--root', b.root, 'state', nodeId], { socket }).stdout).pid;
  assert.equal(ppidOf(state.pid), ppidOf(nodeInit), 'the same parent as an init created by Node');
  assert.equal(front(['--root', b.root, 'delete', '--force', nodeId], { socket }).status, 0);
  assert.equal(front(['--root', b.root, 'start', id], { socket }).status, 0);

  // exec: output and status through the front; --detach returns at once
  const ex = front(['--root', b.root, '--debug', 'exec', id, 'sh', '-c', 'echo exec-out; exit 4'], { socket });
  assert.equal(ex.status, 4, ex.stderr);
  assert.equal(ex.stdout, 'exec-out\n');
  assert.ok(servedByDaemon(ex));
  const missing = front(['--root', b.root, 'exec', id, '/nonexistent'], { socket });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /exec: `\/nonexistent`: ENOENT/);
  const pidFile = join(dir, 'exec.pid');
  const det = front(['--root', b.root, 'exec', '--detach', '--pid-file', pidFile, id, 'sleep', '100'], { socket, files: true });
  assert.equal(det.status, 0, det.stderr);
  const execPid = Number(readFileSync(pidFile, 'utf8'));
  assert.notEqual(ppidOf(execPid), d.pid);
  assert.match(readFileSync(`/proc/${execPid}/cgroup`, 'utf8'), new RegExp(id), 'the exec\'d process is in the container\'s cgroup');

  assert.equal(front(['--root', b.root, 'delete', '--force', id], { socket }).status, 0);
  assert.deepEqual(leftovers(b, id), []);
  assert.deepEqual(processesIn(b.rootfs), []);
  const served = readFileSync(log, 'utf8');
  for (const verb of ['run', 'create', 'start', 'exec', 'delete']) assert.match(served, new RegExp(` ${verb} `), `request log names ${verb}`);
});

test('through the daemon: signals reach the container, --preserve-fds passes fds, a failed create leaves nothing', async () => {
  const socket = join(dir, 'sig.sock');
  await startDaemon(socket);
  const b = bundle(['sh', '-c', 'trap "exit 9" TERM; echo ready; sleep 100 & wait']);
  const id = `perf-sig-${process.pid}`;
  const child = spawn(RUNTIME, ['--root', b.root, 'run', '--bundle', b.dir, id], {
    cwd: dir,
    env: { ...process.env, KAPSEL_RUNTIME_DAEMON_SOCKET: socket },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  for (let i = 0; i < 500 && !out.includes('ready'); i++) await sleepMs(10);
  assert.ok(out.includes('ready'));
  child.kill('SIGTERM');
  const [code] = await new Promise<[number | null]>((r) => child.once('close', (c) => r([c])));
  assert.equal(code, 9, 'SIGTERM forwarded to the container; its exit status returned');
  assert.deepEqual(leftovers(b, id), []);

  // --preserve-fds 1: the caller's fd 3 is the container's fd 3
  const target = join(dir, 'fd3.txt');
  const fd = openSync(target, 'w');
  b.spec.process!.args = ['sh', '-c', 'echo via-fd3 >&3'];
  b.write();
  const pid = `perf-fd-${process.pid}`;
  const r = spawnSync(RUNTIME, ['--root', b.root, '--debug', 'run', '--preserve-fds', '1', '--bundle', b.dir, pid], {
    cwd: dir,
    env: { ...process.env, KAPSEL_RUNTIME_DAEMON_SOCKET: socket },
    stdio: ['ignore', 'pipe', 'pipe', fd],
  });
  closeSync(fd);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.ok(r.stderr.toString().includes('arguments parsed (daemon)'));
  assert.equal(readFileSync(target, 'utf8'), 'via-fd3\n');

  // a create that fails after the init was forked (a bind mount of a missing source): the daemon
  // kills the init, the front reaps it, nothing is left, and the daemon serves the next request
  b.spec.mounts = [...(b.spec.mounts ?? []), { destination: '/mnt', type: 'bind', source: join(dir, 'no-such-source'), options: ['bind'] }];
  b.write();
  const bad = `perf-bad-${process.pid}`;
  const failed = front(['--root', b.root, '--debug', 'create', '--bundle', b.dir, bad], { socket });
  assert.equal(failed.status, 1);
  assert.ok(servedByDaemon(failed));
  assert.match(failed.stderr, /no-such-source/);
  assert.deepEqual(leftovers(b, bad), []);
  assert.deepEqual(processesIn(b.rootfs), []);
  const next = front(['--root', b.root, '--debug', 'state', bad], { socket });
  assert.ok(servedByDaemon(next));
  assert.match(next.stderr, /does not exist/);
});

test("through the daemon a relative cgroupsPath is relative to the caller's cgroup, not the daemon's", async (t) => {
  // the daemon runs in a cgroup of its own (made here), the caller in the test's cgroup
  const v1 = existsSync('/sys/fs/cgroup/pids/cgroup.procs');
  const mount = v1 ? '/sys/fs/cgroup/pids' : '/sys/fs/cgroup';
  const key = v1 ? /^\d+:pids:(.*)$/m : /^0::(.*)$/m;
  const daemonCg = join(mount, `kapsel-daemon-test-${process.pid}`);
  mkdirSync(daemonCg);
  const socket = join(dir, 'cg.sock');
  const d = spawn('sh', ['-c', `echo $$ > ${daemonCg}/cgroup.procs && exec ${RUNTIME} daemon --socket ${socket}`], { stdio: 'ignore' });
  daemons.push(d);
  t.after(async () => {
    if (d.exitCode === null && d.signalCode === null) {
      d.kill('SIGKILL');
      await new Promise((r) => d.once('exit', r));
    }
    rmdirSync(daemonCg);
  });
  for (let i = 0; i < 500 && !existsSync(socket); i++) await sleepMs(10);
  const b = bundle(['sleep', '100'], (spec) => {
    spec.linux!.cgroupsPath = `kapsel-rel-${process.pid}/c`;
  });
  const id = `perf-cg-${process.pid}`;
  const r = front(['--root', b.root, '--debug', 'create', '--bundle', b.dir, id], { socket, files: true });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(servedByDaemon(r));
  const init = JSON.parse(front(['--root', b.root, 'state', id], { socket }).stdout).pid;
  const mine = key.exec(readFileSync('/proc/self/cgroup', 'utf8'))![1]!;
  const its = key.exec(readFileSync(`/proc/${init}/cgroup`, 'utf8'))![1]!;
  assert.equal(its, join(mine, `kapsel-rel-${process.pid}`, 'c'));
  assert.equal(front(['--root', b.root, 'delete', '--force', id], { socket }).status, 0);
  assert.equal(existsSync(join(mount, mine, `kapsel-rel-${process.pid}`, 'c')), false);
  // delete removes the container's own directory (`c`), not the parents a relative path made
  // (runc neither): the test removes them in every hierarchy, and checks nothing is left
  const parents = cgroupsNamed(`kapsel-rel-${process.pid}`, 8);
  assert.ok(parents.length > 0);
  for (const p of parents) rmdirSync(p);
  assert.deepEqual(cgroupsNamed(`kapsel-rel-${process.pid}`, 8), []);
  assert.deepEqual(leftovers(b, id), []);
});

test('--workers N: N processes serve one socket; they stop with the daemon', async () => {
  const socket = join(dir, 'workers.sock');
  const log = join(dir, 'workers.log');
  const d = await startDaemon(socket, ['--workers', '2', '--request-log', log]);
  const workers = (): number[] => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((p) => {
    try {
      return ppidOf(p) === d.pid;
    } catch {
      return false;
    }
  });
  for (let i = 0; i < 300 && workers().length === 0; i++) await sleepMs(10);
  assert.equal(workers().length, 1, 'one more process serves the socket');
  // the worker needs a Node start-up before it accepts: ask until both have answered
  const servers = (): Set<number> => new Set([...readFileSync(log, 'utf8').matchAll(/ pid=(\d+) /g)].map((m) => Number(m[1])));
  for (let i = 0; i < 200 && (i < 2 || servers().size < 2); i++) {
    const r = front(['--root', dir, '--debug', 'state', 'nosuch'], { socket });
    assert.ok(servedByDaemon(r));
  }
  assert.deepEqual([...servers()].sort(), [d.pid!, ...workers()].sort(), 'both processes served requests');
  const worker = workers()[0]!;
  d.kill('SIGTERM');
  await new Promise((r) => d.once('exit', r));
  for (let i = 0; i < 200 && existsSync(`/proc/${worker}`); i++) await sleepMs(10);
  assert.equal(existsSync(`/proc/${worker}`), false, 'the worker ends with the daemon');
});

test('a daemon whose code was replaced on disk (rebuild, upgrade) declines and stops', async () => {
  // a daemon running from a copy of the build, so the test can "rebuild" it
  const tree = join(dir, 'build-copy');
  mkdirSync(tree);
  cpSync(join(REPO, 'dist'), join(tree, 'dist'), { recursive: true });
  for (const d of ['node_modules', 'native', 'package.json']) symlinkSync(join(REPO, d), join(tree, d));
  const socket = join(dir, 'stale.sock');
  const d = spawn(process.execPath, [join(tree, 'dist', 'bundle', 'kapsel-runtime.start.cjs'), 'daemon', '--socket', socket], { stdio: 'ignore' });
  daemons.push(d);
  for (let i = 0; i < 500 && !existsSync(socket); i++) await sleepMs(10);
  assert.ok(servedByDaemon(front(['--root', dir, '--debug', 'state', 'nosuch'], { socket })));
  const entry = join(tree, 'dist', 'bundle', 'kapsel-runtime.start.cjs');
  writeFileSync(entry, readFileSync(entry)); // rewritten as a build does
  const r = front(['--root', dir, '--debug', 'state', 'nosuch'], { socket });
  assert.equal(servedByDaemon(r), false, 'the stale daemon declined');
  assert.match(r.stderr, /container nosuch does not exist/, 'and the front ran the command itself');
  await new Promise((res) => (d.exitCode !== null ? res(undefined) : d.once('exit', res)));
  assert.equal(existsSync(socket), false, 'the stale daemon stopped and removed its socket');
});

test('commands that could hold up the daemon (a hook without a timeout, a VM boot) are left to Node', async () => {
  const socket = join(dir, 'hooks.sock');
  await startDaemon(socket);
  const bounded = bundle(['true'], (spec) => {
    spec.hooks = { prestart: [{ path: '/bin/true', timeout: 5 }], poststop: [{ path: '/bin/true', timeout: 5 }] };
  });
  const r1 = front(['--root', bounded.root, '--debug', 'run', '--bundle', bounded.dir, `hk-b-${process.pid}`], { socket });
  assert.equal(r1.status, 0, r1.stderr);
  assert.ok(servedByDaemon(r1), 'hooks with a timeout: served');

  const unbounded = bundle(['true'], (spec) => {
    spec.hooks = { prestart: [{ path: '/bin/true' }] };
  });
  const r2 = front(['--root', unbounded.root, '--debug', 'run', '--bundle', unbounded.dir, `hk-u-${process.pid}`], { socket });
  assert.equal(r2.status, 0, r2.stderr);
  assert.equal(servedByDaemon(r2), false, 'a hook without a timeout: Node runs it');
  assert.deepEqual(leftovers(unbounded, `hk-u-${process.pid}`), []);

  // start and delete look at the hooks they run (poststart, poststop) in the container's state
  const late = bundle(['sleep', '100'], (spec) => {
    spec.hooks = { poststop: [{ path: '/bin/true' }] };
  });
  const id = `hk-p-${process.pid}`;
  const created = front(['--root', late.root, '--debug', 'create', '--bundle', late.dir, id], { socket, files: true });
  assert.equal(created.status, 0, created.stderr);
  assert.equal(servedByDaemon(created), false);
  const started = front(['--root', late.root, '--debug', 'start', id], { socket });
  assert.equal(started.status, 0, started.stderr);
  assert.ok(servedByDaemon(started), 'no poststart hook: served');
  const del = front(['--root', late.root, '--debug', 'delete', '--force', id], { socket });
  assert.equal(del.status, 0, del.stderr);
  assert.equal(servedByDaemon(del), false, 'a poststop hook without a timeout: Node');
  assert.deepEqual(leftovers(late, id), []);

  // a VM container (here with a kernel that does not exist, so it fails at once): Node
  const vm = bundle(['true'], (spec) => {
    spec.annotations = { 'run.kapsel.isolation': 'vm', 'run.kapsel.vm.kernel': join(dir, 'no-such-kernel') };
  });
  const vmId = `hk-vm-${process.pid}`;
  const r3 = front(['--root', vm.root, '--debug', 'create', '--bundle', vm.dir, vmId], { socket, files: true });
  assert.notEqual(r3.status, 0);
  assert.match(r3.stderr, /no-such-kernel/);
  assert.equal(servedByDaemon(r3), false, 'a VM container: Node');
  assert.deepEqual(leftovers(vm, vmId), []);
});
