// The container process gets what config.json's `process` and `hostname` say, checked from inside.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { bundleFactory, makeBundle, runIn, leftovers, runtime, runtimeAsync, sleepMs, type Bundle } from './helpers.js';

const { bundle, cleanupAll } = bundleFactory();
after(cleanupAll);

test('the process is pid 1 of its own pid namespace and sees the configured hostname', () => {
  const b = bundle(['sh', '-c', 'echo pid=$$; hostname'], (s) => { s.hostname = 'box-one'; });
  const r = runIn(b);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'pid=1\nbox-one\n');
});

test('uid, gid, additional gids and umask are applied', () => {
  const b = bundle(['sh', '-c', 'id -u; id -g; id -G; umask'], (s) => {
    s.process!.user = { uid: 1234, gid: 567, additionalGids: [20, 30], umask: 0o027 };
  });
  const r = runIn(b);
  assert.equal(r.status, 0, r.stderr);
  const [uid, gid, groups, umask] = r.stdout.trim().split('\n');
  assert.equal(uid, '1234');
  assert.equal(gid, '567');
  assert.deepEqual(groups?.split(' ').sort(), ['20', '30', '567']);
  assert.equal(umask, '0027');
});

test('env and cwd are the configured ones; cwd is created when missing', () => {
  const b = bundle(['sh', '-c', 'pwd; echo $FOO; env | grep -c ^'], (s) => {
    s.process!.env = ['PATH=/bin', 'FOO=bar baz'];
    s.process!.cwd = '/work/dir';
  });
  const r = runIn(b);
  assert.equal(r.status, 0, r.stderr);
  const [cwd, foo] = r.stdout.split('\n');
  assert.equal(cwd, '/work/dir');
  assert.equal(foo, 'bar baz');
});

test('capability sets come from the config (read back from /proc/self/status)', () => {
  const b = bundle(['sh', '-c', 'grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb)" /proc/self/status'], (s) => {
    s.process!.capabilities = {
      bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_RAW'],
      effective: ['CAP_CHOWN', 'CAP_KILL'],
      permitted: ['CAP_CHOWN', 'CAP_KILL'],
      inheritable: ['CAP_KILL'],
      ambient: ['CAP_KILL'],
    };
    s.process!.user = { uid: 1000, gid: 1000 };
  });
  const r = runIn(b);
  assert.equal(r.status, 0, r.stderr);
  const caps = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(':\t') as [string, string]));
  // CAP_CHOWN = bit 0, CAP_KILL = bit 5, CAP_NET_RAW = bit 13
  assert.equal(caps['CapBnd'], '0000000000002021');
  assert.equal(caps['CapInh'], '0000000000000020');
  // a non-root process keeps only its ambient set across exec: CAP_KILL
  assert.equal(caps['CapPrm'], '0000000000000020');
  assert.equal(caps['CapEff'], '0000000000000020');
  assert.equal(caps['CapAmb'], '0000000000000020');
});

test('noNewPrivileges sets NoNewPrivs', () => {
  const on = runIn(bundle(['grep', 'NoNewPrivs', '/proc/self/status'], (s) => { s.process!.noNewPrivileges = true; }));
  const off = runIn(bundle(['grep', 'NoNewPrivs', '/proc/self/status'], (s) => { s.process!.noNewPrivileges = false; }));
  assert.match(on.stdout, /NoNewPrivs:\s+1/);
  assert.match(off.stdout, /NoNewPrivs:\s+0/);
});

test('rlimits are applied to the process', () => {
  const b = bundle(['sh', '-c', 'ulimit -n; ulimit -Hn; ulimit -c'], (s) => {
    s.process!.rlimits = [
      { type: 'RLIMIT_NOFILE', soft: 321, hard: 654 },
      { type: 'RLIMIT_CORE', soft: 0, hard: 0 },
    ];
  });
  const r = runIn(b);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '321\n654\n0\n');
});

test('oomScoreAdj is applied', () => {
  const r = runIn(bundle(['cat', '/proc/self/oom_score_adj'], (s) => { s.process!.oomScoreAdj = 123; }));
  assert.equal(r.stdout.trim(), '123');
});

test('the exit status passes through `run`', () => {
  assert.equal(runIn(bundle(['sh', '-c', 'exit 42'])).status, 42);
});

test('a container killed by a signal makes `run` exit with 128+N', async () => {
  const b = bundle(['sleep', '100']);
  const id = 'killed-by-signal';
  const child = runtimeAsync(b, ['run', '--bundle', b.dir, id]);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  for (let i = 0; i < 200 && runtime(b, ['state', id]).stdout.indexOf('"running"') < 0; i++) await sleepMs(20);
  const k = runtime(b, ['kill', id, 'KILL']);
  assert.equal(k.status, 0, k.stderr);
  assert.equal(await exited, 128 + 9);
  assert.deepEqual(leftovers(b, id), []);
});

test('stdout and stderr stay apart', () => {
  const r = runIn(bundle(['sh', '-c', 'echo out; echo err >&2']));
  assert.equal(r.stdout, 'out\n');
  assert.equal(r.stderr, 'err\n');
});

test('a missing executable fails `run` with a clear error and leaves nothing behind', () => {
  const b = bundle(['/no/such/binary']);
  const id = 'missing-exe';
  const r = runIn(b, id);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /\/no\/such\/binary/);
  assert.deepEqual(leftovers(b, id), []);
});

test('PATH lookup inside the container finds the binary by name', () => {
  const r = runIn(bundle(['echo', 'found']));
  assert.equal(r.stdout, 'found\n');
});
