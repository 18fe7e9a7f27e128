// exec: a second process inside a running container, in all its namespaces and cgroups, with
// the container's restrictions.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { linuxSyscalls } from '../sys/linux-syscalls.js';
import { bundleFactory, runtime, leftovers, RUNTIME, sleepMs, readTerminal } from './helpers.js';

const { bundle, cleanupAll } = bundleFactory();
const containers: { b: ReturnType<typeof bundle>; id: string }[] = [];
// a failing test must not leave its container (and cgroups) behind: delete them all at the end
after(() => {
  for (const c of containers) {
    runtime(c.b, ['delete', '--force', c.id]);
    assert.deepEqual(leftovers(c.b, c.id), []);
  }
  cleanupAll();
});

function started(args: string[] = ['sleep', '100'], edit?: Parameters<typeof bundle>[1]) {
  const b = bundle(args, edit);
  const id = `ex-${Math.random().toString(36).slice(2, 8)}`;
  containers.push({ b, id });
  const r = runtime(b, ['run', '-d', '--bundle', b.dir, id]);
  assert.equal(r.status, 0, r.stderr);
  const pid = JSON.parse(runtime(b, ['state', id]).stdout).pid as number;
  return { b, id, pid };
}

test('exec runs in the container\'s namespaces and cgroups; its exit status passes through', () => {
  const { b, id, pid } = started(['sleep', '100'], (s) => { s.hostname = 'exec-box'; });
  const r = runtime(b, ['exec', id, 'sh', '-c', 'hostname; cat /proc/1/cmdline | tr "\\0" " "; echo; exit 7']);
  assert.equal(r.status, 7, r.stderr);
  const [host, init] = r.stdout.split('\n');
  assert.equal(host, 'exec-box');
  assert.equal(init?.trim(), 'sleep 100');
  const own = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  const inner = runtime(b, ['exec', id, 'cat', '/proc/self/cgroup']).stdout;
  // the same cgroup lines as the init (paths as the host sees them: no cgroup namespace)
  for (const line of own.trim().split('\n')) assert.ok(inner.includes(line), `${line} missing from ${inner}`);
  assert.equal(runtime(b, ['delete', '--force', id]).status, 0);
  assert.deepEqual(leftovers(b, id), []);
});

test('exec options: --user, --cwd, --env, --cap and --no-new-privs', () => {
  const { b, id } = started();
  const r = runtime(b, ['exec', '--user', '1000:1000', '--cwd', '/tmp', '-e', 'FOO=bar', '--no-new-privs', id, 'sh', '-c', 'id -u; id -g; pwd; echo $FOO; grep NoNewPrivs /proc/self/status']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^1000\n1000\n\/tmp\nbar\nNoNewPrivs:\s+1\n$/);
  const caps = runtime(b, ['exec', '--cap', 'CAP_SYS_ADMIN', id, 'grep', 'CapBnd', '/proc/self/status']).stdout;
  const bits = BigInt(`0x${caps.split(':')[1]!.trim()}`);
  assert.equal((bits >> 21n) & 1n, 1n, 'CAP_SYS_ADMIN (bit 21) was added');
  assert.equal(runtime(b, ['delete', '--force', id]).status, 0);
});

test('exec --process FILE takes a runtime-spec process; an invalid one is refused with its JSON path', () => {
  const { b, id } = started();
  const file = join(b.dir, 'process.json');
  writeFileSync(file, JSON.stringify({ args: ['sh', '-c', 'echo $A'], env: ['A=from-file', 'PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } }));
  const r = runtime(b, ['exec', '--process', file, id]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'from-file\n');
  writeFileSync(file, JSON.stringify({ args: [], cwd: 'relative', user: { uid: 0, gid: 0 } }));
  const bad = runtime(b, ['exec', '--process', file, id]);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /\$\.process\.args/);
  assert.equal(runtime(b, ['delete', '--force', id]).status, 0);
});

test('exec --detach returns at once and writes the pid file; the process is in the container', async () => {
  const { b, id, pid } = started();
  const pidFile = join(b.dir, 'exec.pid');
  const r = runtime(b, ['exec', '-d', '--pid-file', pidFile, id, 'sleep', '30']);
  assert.equal(r.status, 0, r.stderr);
  const execPid = Number(readFileSync(pidFile, 'utf8'));
  assert.ok(execPid > 0);
  const { readlinkSync } = await import('node:fs');
  assert.equal(readlinkSync(`/proc/${execPid}/ns/pid`), readlinkSync(`/proc/${pid}/ns/pid`));
  assert.equal(readlinkSync(`/proc/${execPid}/ns/mnt`), readlinkSync(`/proc/${pid}/ns/mnt`));
  assert.equal(runtime(b, ['delete', '--force', id]).status, 0);
  assert.deepEqual(leftovers(b, id), []);
});

test('exec gets the container\'s seccomp filter', () => {
  const { b, id } = started(['sleep', '100'], (s) => {
    s.root!.readonly = false;
    s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] };
  });
  const r = runtime(b, ['exec', id, 'mkdir', '/tmp/x']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /Operation not permitted/);
  assert.equal(runtime(b, ['delete', '--force', id]).status, 0);
});

test('exec --tty sends a pty of the container over --console-socket', async () => {
  const { b, id } = started();
  const sys = linuxSyscalls();
  const sock = join(b.dir, 'exec-console.sock');
  const listener = sys.listenUnix(sock);
  const child = spawn(RUNTIME, ['--root', b.root, 'exec', '-t', '--console-socket', sock, id, 'sh', '-c', 'tty; echo done'], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  const conn = sys.accept(listener);
  const msg = sys.recvmsg(conn, 4096, 4);
  sys.close(conn);
  sys.close(listener);
  const master = msg.fds[0]!;
  const text = await readTerminal(master, 'done');
  closeSync(master);
  assert.equal(await exited, 0);
  assert.match(text, /\/dev\/pts\/\d+/);
  assert.equal(runtime(b, ['delete', '--force', id]).status, 0);
});

test('exec into a stopped or unknown container is refused clearly', async () => {
  const { b, id, pid } = started();
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && JSON.parse(runtime(b, ['state', id]).stdout).status !== 'stopped'; i++) await sleepMs(20);
  assert.match(runtime(b, ['exec', id, 'true']).stderr, /cannot exec in a stopped container/);
  assert.match(runtime(b, ['exec', 'nosuch', 'true']).stderr, /container nosuch does not exist/);
  assert.equal(runtime(b, ['delete', id]).status, 0);
  assert.deepEqual(leftovers(b, id), []);
});
