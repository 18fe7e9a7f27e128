// create / start / state / kill / delete / list behave like runc's, status stays true, and
// failures leave nothing behind.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { bundleFactory, makeBundle, runtime, leftovers, sleepMs, RUNTIME, type Bundle } from './helpers.js';

const { bundle, cleanupAll } = bundleFactory();
after(cleanupAll);

function status(b: Bundle, id: string): string {
  const r = runtime(b, ['state', id]);
  return r.status === 0 ? (JSON.parse(r.stdout) as { status: string }).status : `error: ${r.stderr.trim()}`;
}

async function waitStatus(b: Bundle, id: string, want: string): Promise<string> {
  let s = '';
  for (let i = 0; i < 250; i++) {
    s = status(b, id);
    if (s === want) return s;
    await sleepMs(20);
  }
  return s;
}

test('create -> created, start -> running, kill -> stopped, delete -> gone', async () => {
  const b = bundle(['sleep', '100']);
  const pidFile = join(b.dir, 'init.pid');
  const c = runtime(b, ['create', '--bundle', b.dir, '--pid-file', pidFile, 'life']);
  assert.equal(c.status, 0, c.stderr);
  const pidText = readFileSync(pidFile, 'utf8');
  assert.match(pidText, /^\d+$/, 'the pid file holds digits only, no newline');
  const state = JSON.parse(runtime(b, ['state', 'life']).stdout);
  assert.equal(state.status, 'created');
  assert.equal(state.pid, Number(pidText));
  assert.equal(state.id, 'life');
  assert.equal(state.bundle, b.dir);
  assert.equal(state.ociVersion, '1.2.0');
  // the init waits: no sleep process yet
  assert.doesNotMatch(readFileSync(`/proc/${state.pid}/cmdline`, 'utf8'), /sleep/);

  assert.equal(runtime(b, ['start', 'life']).status, 0);
  assert.equal(status(b, 'life'), 'running');
  assert.match(readFileSync(`/proc/${state.pid}/cmdline`, 'utf8'), /sleep/);

  const again = runtime(b, ['start', 'life']);
  assert.notEqual(again.status, 0, 'a running container cannot be started twice');

  const del = runtime(b, ['delete', 'life']);
  assert.notEqual(del.status, 0);
  assert.match(del.stderr, /not stopped: running/);

  assert.equal(runtime(b, ['kill', 'life', 'KILL']).status, 0);
  assert.equal(await waitStatus(b, 'life', 'stopped'), 'stopped');
  assert.equal(runtime(b, ['delete', 'life']).status, 0);
  assert.match(runtime(b, ['state', 'life']).stderr, /does not exist/);
  assert.deepEqual(leftovers(b, 'life'), []);
});

test('status is stopped when the init is killed from outside the runtime', async () => {
  const b = bundle(['sleep', '100']);
  assert.equal(runtime(b, ['run', '-d', '--bundle', b.dir, 'outside']).status, 0);
  const pid = JSON.parse(runtime(b, ['state', 'outside']).stdout).pid as number;
  process.kill(pid, 'SIGKILL');
  assert.equal(await waitStatus(b, 'outside', 'stopped'), 'stopped');
  assert.equal(JSON.parse(runtime(b, ['state', 'outside']).stdout).pid, 0);
  assert.match(runtime(b, ['kill', 'outside']).stderr, /container not running/);
  assert.equal(runtime(b, ['delete', 'outside']).status, 0);
  assert.deepEqual(leftovers(b, 'outside'), []);
});

test('kill accepts names with and without SIG and numbers; --all reaches every process', async () => {
  const b = bundle(['sh', '-c', 'trap "echo usr1 > /tmp/got; exit 0" USR1; sleep 100 & wait'], (s) => { s.root!.readonly = false; });
  assert.equal(runtime(b, ['run', '-d', '--bundle', b.dir, 'sig']).status, 0);
  await sleepMs(200);
  assert.equal(runtime(b, ['kill', 'sig', 'USR1']).status, 0);
  for (let i = 0; i < 100 && !existsSync(join(b.rootfs, 'tmp', 'got')); i++) await sleepMs(20);
  assert.equal(readFileSync(join(b.rootfs, 'tmp', 'got'), 'utf8'), 'usr1\n');
  assert.match(runtime(b, ['kill', 'sig', 'NOPE']).stderr, /invalid signal/);
  const b2 = bundle(['sh', '-c', 'sleep 100 & sleep 100 & wait']);
  assert.equal(runtime(b2, ['run', '-d', '--bundle', b2.dir, 'all']).status, 0);
  await sleepMs(200);
  assert.equal(runtime(b2, ['kill', '--all', 'all', '9']).status, 0);
  assert.equal(await waitStatus(b2, 'all', 'stopped'), 'stopped');
  assert.equal(runtime(b2, ['delete', 'all']).status, 0);
  assert.equal(runtime(b, ['delete', '--force', 'sig']).status, 0);
  assert.deepEqual([...leftovers(b, 'sig'), ...leftovers(b2, 'all')], []);
});

test('delete --force removes a running container and everything it held', () => {
  const b = bundle(['sleep', '100']);
  assert.equal(runtime(b, ['run', '-d', '--bundle', b.dir, 'forced']).status, 0);
  const pid = JSON.parse(runtime(b, ['state', 'forced']).stdout).pid as number;
  assert.equal(runtime(b, ['delete', '--force', 'forced']).status, 0);
  assert.equal(existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'), false);
  assert.deepEqual(leftovers(b, 'forced'), []);
});

test('list shows containers as a table and as JSON; -q prints ids', () => {
  const b = bundle(['sleep', '100']);
  assert.equal(runtime(b, ['create', '--bundle', b.dir, 'listed']).status, 0);
  const table = runtime(b, ['list']).stdout;
  assert.match(table, /^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER/);
  assert.match(table, /listed\s+\d+\s+created\s+/);
  const json = JSON.parse(runtime(b, ['list', '--format', 'json']).stdout) as { id: string; status: string }[];
  assert.deepEqual(json.map((c) => [c.id, c.status]), [['listed', 'created']]);
  assert.equal(runtime(b, ['list', '-q']).stdout, 'listed\n');
  assert.equal(runtime(b, ['delete', '--force', 'listed']).status, 0);
  assert.deepEqual(leftovers(b, 'listed'), []);
});

test('two concurrent creates with the same id: exactly one wins', async () => {
  const b = bundle(['sleep', '100']);
  const start = (): Promise<number | null> => new Promise((resolve) => {
    const c = spawn(RUNTIME, ['--root', b.root, 'create', '--bundle', b.dir, 'race'], { stdio: 'ignore' });
    c.on('exit', (code) => resolve(code));
  });
  const codes = await Promise.all([start(), start(), start()]);
  assert.equal(codes.filter((c) => c === 0).length, 1, `exit codes ${codes.join(',')}`);
  assert.equal(status(b, 'race'), 'created');
  assert.equal(runtime(b, ['delete', '--force', 'race']).status, 0);
  assert.deepEqual(leftovers(b, 'race'), []);
});

test('a failure during create leaves no mount, cgroup, state or process behind', () => {
  const b = bundle(['true'], (s) => {
    s.mounts!.push({ destination: '/data', type: 'bind', source: '/no/such/source', options: ['rbind'] });
  });
  const r = runtime(b, ['create', '--bundle', b.dir, 'broken']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /\/no\/such\/source/);
  assert.deepEqual(leftovers(b, 'broken'), []);
  assert.match(runtime(b, ['state', 'broken']).stderr, /does not exist/);
});

test('a malformed config names every violation with its JSON path; no state is written', () => {
  const b = bundle(['true']);
  const spec = JSON.parse(readFileSync(join(b.dir, 'config.json'), 'utf8'));
  spec.process.args = [];
  spec.process.cwd = 'relative';
  spec.linux.namespaces.push({ type: 'bogus' });
  writeFileSync(join(b.dir, 'config.json'), JSON.stringify(spec));
  const r = runtime(b, ['create', '--bundle', b.dir, 'bad']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /process\.args/);
  assert.match(r.stderr, /process\.cwd/);
  assert.match(r.stderr, /linux\.namespaces\[\d+\]\.type/);
  assert.deepEqual(leftovers(b, 'bad'), []);
  writeFileSync(join(b.dir, 'config.json'), '{"ociVersion": "1.2.0",');
  const j = runtime(b, ['create', '--bundle', b.dir, 'bad']);
  assert.notEqual(j.status, 0);
  assert.match(j.stderr, /config\.json/);
});

test('invalid ids and unknown containers get clear errors', () => {
  const b = bundle(['true']);
  assert.match(runtime(b, ['create', '--bundle', b.dir, '../evil']).stderr, /invalid container id/);
  assert.match(runtime(b, ['start', 'nosuch']).stderr, /container nosuch does not exist/);
  assert.match(runtime(b, ['delete', 'nosuch']).stderr, /does not exist/);
  assert.notEqual(runtime(b, ['delete', 'nosuch']).status, 0);
});

test('delete --force of a container that does not exist succeeds, as runc (containerd\'s shim cleanup runs it)', () => {
  const b = bundle(['true']);
  const r = runtime(b, ['delete', '--force', 'nosuch']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.notEqual(runtime(b, ['delete', '--force', '../evil']).status, 0, 'an invalid id is still an error');
});

test('spec writes runc\'s default config and refuses to overwrite it', () => {
  const b = bundle(['true']);
  const r = runtime(b, ['spec', '--bundle', b.dir]);
  assert.notEqual(r.status, 0, 'config.json exists already');
  assert.match(r.stderr, /exists/);
});

test('hooks run at their points with the state on stdin; a failing prestart fails create cleanly', () => {
  const b = bundle(['true']);
  const log = join(b.dir, 'hooks.log');
  const hook = (name: string) => ({ path: '/bin/sh', args: ['sh', '-c', `read -r s; echo "${name} $s" >> ${log}`] });
  // startContainer runs inside the container: it writes into the container's /tmp
  const inside = { path: '/bin/sh', args: ['sh', '-c', 'read -r s; echo "startContainer $s" > /tmp/start-hook'] };
  b.spec.hooks = { prestart: [hook('prestart')], createRuntime: [hook('createRuntime')], createContainer: [hook('createContainer')], startContainer: [inside], poststart: [hook('poststart')], poststop: [hook('poststop')] };
  b.spec.root!.readonly = false;
  b.write();
  assert.equal(runtime(b, ['run', '--bundle', b.dir, 'hooked']).status, 0);
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  assert.deepEqual(lines.map((l) => l.split(' ')[0]), ['prestart', 'createRuntime', 'createContainer', 'poststart', 'poststop']);
  const started = readFileSync(join(b.rootfs, 'tmp', 'start-hook'), 'utf8');
  assert.match(started, /^startContainer \{.*"id":"hooked"/);
  const state = JSON.parse(lines[0]!.slice('prestart '.length));
  assert.equal(state.id, 'hooked');
  assert.equal(state.status, 'created');
  assert.ok(state.pid > 0);
  // a hook that does not read its stdin is fine (EPIPE on our side is not its failure)
  b.spec.hooks = { createRuntime: [{ path: '/bin/true' }] };
  b.write();
  const quiet = runtime(b, ['run', '--bundle', b.dir, 'hookquiet']);
  assert.equal(quiet.status, 0, quiet.stderr);
  b.spec.hooks = { prestart: [{ path: '/bin/false' }] };
  b.write();
  const r = runtime(b, ['create', '--bundle', b.dir, 'hookfail']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /prestart hook `\/bin\/false` exited with status 1/);
  assert.deepEqual(leftovers(b, 'hookfail'), []);
  b.spec.hooks = { createRuntime: [{ path: '/bin/sleep', args: ['sleep', '10'], timeout: 1 }] };
  b.write();
  const t = runtime(b, ['create', '--bundle', b.dir, 'hooktimeout']);
  assert.match(t.stderr, /timed out after 1s/);
  assert.deepEqual(leftovers(b, 'hooktimeout'), []);
});

test('parallel runs sharing the default cgroup parent /kapsel all succeed and leave nothing', async () => {
  const b = bundle(['true']);
  const one = (id: string): Promise<number | null> => new Promise((resolve) => {
    const c = spawn(RUNTIME, ['--root', b.root, 'run', '--bundle', b.dir, id], { stdio: 'ignore' });
    c.on('exit', (code) => resolve(code));
  });
  const ids = Array.from({ length: 8 }, (_, i) => `par-${i}`);
  for (let round = 0; round < 2; round++) {
    const codes = await Promise.all(ids.map((id) => one(id)));
    assert.deepEqual(codes, ids.map(() => 0));
  }
  for (const id of ids) assert.deepEqual(leftovers(b, id), []);
});
