// Resource limits are enforced, checked from inside real containers: memory (OOM kill, exit
// status, `oom` event), pids, cpu quota and shares, device rules; and the cgroup verbs work on
// live containers: update, pause/resume, events, ps. The CPU checks measure the cgroup's own
// accounting over ~2 s with the tolerances issue 3 states (±25%); they are not speed claims.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleFactory, runtime, runtimeAsync, leftovers, sleepMs, type Bundle } from './helpers.js';

const { bundle, cleanupAll } = bundleFactory();
after(cleanupAll);

const MiB = 1024 * 1024;
const id = (name: string): string => `cg${process.pid}-${name}`;
/** A busybox allocation of `bytes` that really stays in memory: ash keeps $(...) output. */
const allocate = (bytes: number): string => `x=$(head -c ${bytes} /dev/zero | tr "\\0" a); echo allocated \${#x}`;
/** Waits in the container until the test creates /tmp/<name> in the rootfs. */
const waitFile = (name: string): string => `while [ ! -e /tmp/${name} ]; do sleep 0.05; done`;

function state(b: Bundle, cid: string): { status: string; pid: number } | undefined {
  const r = runtime(b, ['state', cid]);
  return r.status === 0 ? (JSON.parse(r.stdout) as { status: string; pid: number }) : undefined;
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleepMs(20);
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

function output(child: ChildProcess): { text: () => string } {
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  return { text: () => text };
}

/** The container's directory for a controller: v1 `<mount>/<controller>/kapsel/<id>`, else v2. */
function cgroupDir(controller: string, cid: string): string {
  const v1 = `/sys/fs/cgroup/${controller}/kapsel/${cid}`;
  return existsSync(v1) ? v1 : `/sys/fs/cgroup/kapsel/${cid}`;
}

/** CPU time the container's cgroup has used, in ns (v1 cpuacct.usage, v2 cpu.stat usage_usec). */
function cpuUsageNs(cid: string): number {
  const v1 = join(cgroupDir('cpuacct', cid), 'cpuacct.usage');
  if (existsSync(v1)) return Number(readFileSync(v1, 'utf8'));
  const stat = readFileSync(join(cgroupDir('cpu', cid), 'cpu.stat'), 'utf8');
  return Number(/^usage_usec (\d+)$/m.exec(stat)?.[1] ?? 0) * 1000;
}

/** CPUs used (cpu-seconds per second) by each container over `ms` of wall time. */
async function cpuRates(cids: readonly string[], ms: number): Promise<number[]> {
  const t0 = process.hrtime.bigint();
  const u0 = cids.map(cpuUsageNs);
  await sleepMs(ms);
  const u1 = cids.map(cpuUsageNs);
  const wallNs = Number(process.hrtime.bigint() - t0);
  return u1.map((u, i) => (u - u0[i]!) / wallNs);
}

function oomKills(cid: string): number {
  const dir = cgroupDir('memory', cid);
  const v1 = join(dir, 'memory.oom_control');
  const text = readFileSync(existsSync(v1) ? v1 : join(dir, 'memory.events'), 'utf8');
  return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);
}

test('memory limit 64 MiB: allocating 200 MiB is OOM-killed, run exits 137, events reports oom; the host is untouched', async (t) => {
  const cid = id('oom');
  const b = bundle(['sh', '-c', `${waitFile('go')}; exec sh -c '${allocate(200_000_000)}'`], (s) => {
    s.root!.readonly = false;
    s.linux!.resources!.memory = { limit: 64 * MiB };
  });
  b.write();
  const sentinel = spawn('sleep', ['120'], { stdio: 'ignore' });
  const run = runtimeAsync(b, ['run', '--keep', '--bundle', b.dir, cid]);
  const runOut = output(run);
  const runExit = exited(run);
  let events: ChildProcess | undefined;
  try {
    await until(() => state(b, cid)?.status === 'running', 'the container to run');
    events = runtimeAsync(b, ['events', '--interval', '200ms', cid]);
    const ev = output(events);
    const evExit = exited(events);
    // the first stats line: `events` is polling before the allocation starts
    await until(() => ev.text().includes('"type":"stats"'), 'the first stats event');
    writeFileSync(join(b.rootfs, 'tmp', 'go'), '');
    assert.equal(await runExit, 137, `run: ${runOut.text()}`);
    assert.doesNotMatch(runOut.text(), /allocated/);
    assert.ok(oomKills(cid) >= 1, 'the kernel counted an OOM kill in the container cgroup');
    assert.equal(await evExit, 0, 'events ends when the init is gone');
    const lines = ev.text().trim().split('\n').map((l) => JSON.parse(l) as { type: string; id: string; data?: { memory?: { usage?: { limit?: number } } } });
    assert.ok(lines.some((e) => e.type === 'oom' && e.id === cid), `an oom event: ${ev.text()}`);
    assert.equal(lines.find((e) => e.type === 'stats')?.data?.memory?.usage?.limit, 64 * MiB);
    t.diagnostic(`oom kills: ${oomKills(cid)}, events: ${lines.map((e) => e.type).join(',')}`);
    assert.equal(sentinel.exitCode, null, 'a host process outside the container is alive');
    assert.equal(sentinel.signalCode, null);
  } finally {
    sentinel.kill('SIGKILL');
    events?.kill('SIGKILL');
    run.kill('SIGKILL');
    await runExit;
  }
  assert.match(runtime(b, ['events', '--stats', cid]).stderr, /container with id .* is not running/);
  assert.equal(runtime(b, ['delete', cid]).status, 0);
  assert.deepEqual(leftovers(b, cid), []);
});

test('pids limit 20: a fork loop stops at the limit', () => {
  const cid = id('pids');
  const b = bundle(['sh', '-c', 'n=0; while [ $n -lt 40 ]; do sleep 30 & n=$((n+1)); echo $n > /tmp/forks; done'], (s) => {
    s.root!.readonly = false;
    s.linux!.resources!.pids = { limit: 20 };
  });
  b.write();
  const r = runtime(b, ['run', '--bundle', b.dir, cid]);
  assert.notEqual(r.status, 0, 'the shell fails when fork fails');
  assert.match(r.stderr, /can't fork|Resource temporarily unavailable/);
  const forks = Number(readFileSync(join(b.rootfs, 'tmp', 'forks'), 'utf8'));
  // 20 tasks in all: the shell and 19 children
  assert.equal(forks, 19, `forks that succeeded: ${forks}`);
  assert.deepEqual(leftovers(b, cid), []);
});

test('cpu quota 50%: a busy loop gets about half a CPU', async (t) => {
  const cid = id('quota');
  const b = bundle(['sh', '-c', 'while :; do :; done'], (s) => {
    s.linux!.resources!.cpu = { quota: 50_000, period: 100_000 };
  });
  b.write();
  assert.equal(runtime(b, ['run', '-d', '--bundle', b.dir, cid]).status, 0);
  try {
    await sleepMs(300);
    const [rate] = await cpuRates([cid], 2000);
    t.diagnostic(`cpu used with quota 50000/100000: ${rate!.toFixed(3)} CPUs`);
    assert.ok(rate! >= 0.375 && rate! <= 0.625, `want 0.5 ± 25%, got ${rate}`);
  } finally {
    assert.equal(runtime(b, ['delete', '--force', cid]).status, 0);
  }
  assert.deepEqual(leftovers(b, cid), []);
});

test('cpu shares 1024 vs 256 on one CPU: CPU time in about 4:1', async (t) => {
  const [hi, lo] = [id('shares-hi'), id('shares-lo')];
  const make = (shares: number) => {
    const b = bundle(['sh', '-c', 'while :; do :; done'], (s) => {
      s.linux!.resources!.cpu = { shares, cpus: '0' };
    });
    b.write();
    return b;
  };
  const bh = make(1024);
  const bl = make(256);
  assert.equal(runtime(bh, ['run', '-d', '--bundle', bh.dir, hi]).status, 0);
  assert.equal(runtime(bl, ['run', '-d', '--bundle', bl.dir, lo]).status, 0);
  try {
    await sleepMs(300);
    const [rh, rl] = await cpuRates([hi, lo], 2000);
    const ratio = rh! / rl!;
    t.diagnostic(`cpu used on cpu 0: shares 1024 ${rh!.toFixed(3)}, shares 256 ${rl!.toFixed(3)}, ratio ${ratio.toFixed(2)}`);
    assert.ok(rl! > 0, 'the low-share container runs too');
    assert.ok(ratio >= 3 && ratio <= 5, `want 4 ± 25%, got ${ratio}`);
  } finally {
    assert.equal(runtime(bh, ['delete', '--force', hi]).status, 0);
    assert.equal(runtime(bl, ['delete', '--force', lo]).status, 0);
  }
  assert.deepEqual([...leftovers(bh, hi), ...leftovers(bl, lo)], []);
});

test('devices: a device the rules allow for reading only cannot be opened for writing (EPERM)', () => {
  // c 240:0 is in the "local/experimental" range: no driver, so an open the cgroup allows fails
  // with ENXIO and one it denies with EPERM, and nothing on the host is touched either way.
  // (A deny rule for /dev/null itself is overridden: like runc, the runtime appends its default
  // allow list, /dev/null rwm among it, after the configured rules.)
  const cid = id('devices');
  const b = bundle(['sh', '-c', '(exec 3</tmp/dev240) 2>&1; (exec 3>/tmp/dev240) 2>&1; echo done'], (s) => {
    s.linux!.resources!.devices!.push(
      { allow: true, type: 'c', major: 240, minor: 0, access: 'rw' },
      { allow: false, type: 'c', major: 240, minor: 0, access: 'w' },
    );
  });
  b.write();
  const mknod = spawnSync('mknod', [join(b.rootfs, 'tmp', 'dev240'), 'c', '240', '0']);
  assert.equal(mknod.status, 0, mknod.stderr.toString());
  const r = runtime(b, ['run', '--bundle', b.dir, cid]);
  assert.equal(r.status, 0, r.stderr);
  const [readLine, writeLine] = r.stdout.trim().split('\n');
  assert.match(readLine ?? '', /No such device or address/, 'read access passes the cgroup (ENXIO from the missing driver)');
  assert.match(writeLine ?? '', /Operation not permitted/, 'write access is denied by the cgroup');
  assert.deepEqual(leftovers(b, cid), []);
});

test('update raises a memory limit live: an allocation that failed succeeds afterwards', async () => {
  const cid = id('update');
  const alloc = allocate(48_000_000); // ash's buffer doubling peaks near 2x: > 64 MiB, < 256 MiB
  const b = bundle(['sh', '-c', `${waitFile('go1')}; sh -c '${alloc}' > /tmp/r1; echo "status $?" >> /tmp/r1; ${waitFile('go2')}; sh -c '${alloc}' > /tmp/r2; echo "status $?" >> /tmp/r2; sleep 100`], (s) => {
    s.root!.readonly = false;
    s.linux!.resources!.memory = { limit: 64 * MiB };
  });
  b.write();
  assert.equal(runtime(b, ['run', '-d', '--bundle', b.dir, cid]).status, 0);
  try {
    const r1 = join(b.rootfs, 'tmp', 'r1');
    const r2 = join(b.rootfs, 'tmp', 'r2');
    writeFileSync(join(b.rootfs, 'tmp', 'go1'), '');
    await until(() => existsSync(r1) && readFileSync(r1, 'utf8').includes('status'), 'the first allocation');
    assert.match(readFileSync(r1, 'utf8'), /^status 137$/m, 'OOM-killed under 64 MiB');

    const u = runtime(b, ['update', '--memory', '256m', cid]);
    assert.equal(u.status, 0, u.stderr);
    const stats = JSON.parse(runtime(b, ['events', '--stats', cid]).stdout) as { type: string; data: { memory: { usage: { limit: number } } } };
    assert.equal(stats.type, 'stats');
    assert.equal(stats.data.memory.usage.limit, 256 * MiB);

    writeFileSync(join(b.rootfs, 'tmp', 'go2'), '');
    await until(() => existsSync(r2) && readFileSync(r2, 'utf8').includes('status'), 'the second allocation');
    assert.match(readFileSync(r2, 'utf8'), /allocated 48000000\nstatus 0/);

    // --resources from stdin, and runc's error for a bad value
    const j = runtime(b, ['update', '--resources', '-', cid], JSON.stringify({ memory: { limit: 128 * MiB }, pids: { limit: 50 } }));
    assert.equal(j.status, 0, j.stderr);
    const again = JSON.parse(runtime(b, ['events', '--stats', cid]).stdout) as { data: { memory: { usage: { limit: number } }; pids: { limit: number } } };
    assert.equal(again.data.memory.usage.limit, 128 * MiB);
    assert.equal(again.data.pids.limit, 50);
    assert.match(runtime(b, ['update', '--memory', 'lots', cid]).stderr, /invalid value for --memory/);
  } finally {
    assert.equal(runtime(b, ['delete', '--force', cid]).status, 0);
  }
  assert.match(runtime(b, ['update', '--memory', '1g', cid]).stderr, /does not exist/);
  assert.deepEqual(leftovers(b, cid), []);
});

test('pause stops a counter, state says paused; resume lets it go on', async () => {
  const cid = id('pause');
  const b = bundle(['sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.02; done'], (s) => {
    s.root!.readonly = false;
  });
  b.write();
  assert.equal(runtime(b, ['run', '-d', '--bundle', b.dir, cid]).status, 0);
  const count = (): number => Number(readFileSync(join(b.rootfs, 'tmp', 'count'), 'utf8') || 0);
  try {
    await until(() => existsSync(join(b.rootfs, 'tmp', 'count')) && count() > 2, 'the counter to start');
    assert.equal(runtime(b, ['pause', cid]).status, 0);
    assert.equal(state(b, cid)?.status, 'paused');
    const frozenAt = count();
    await sleepMs(500);
    assert.equal(count(), frozenAt, 'no progress while paused');
    assert.match(runtime(b, ['pause', cid]).stderr, /container not running/);

    assert.equal(runtime(b, ['resume', cid]).status, 0);
    assert.equal(state(b, cid)?.status, 'running');
    await until(() => count() > frozenAt + 2, 'the counter to go on');
    assert.match(runtime(b, ['resume', cid]).stderr, /container not paused/);
  } finally {
    assert.equal(runtime(b, ['delete', '--force', cid]).status, 0);
  }
  assert.deepEqual(leftovers(b, cid), []);
});

// With the v1 freezer a frozen task dies of SIGKILL only once thawed: delete --force thaws.
test('delete --force of a paused container removes it', () => {
  const cid = id('pausedel');
  const b = bundle(['sleep', '100']);
  assert.equal(runtime(b, ['run', '-d', '--bundle', b.dir, cid]).status, 0);
  try {
    assert.equal(runtime(b, ['pause', cid]).status, 0);
    assert.equal(state(b, cid)?.status, 'paused');
    const d = runtime(b, ['delete', '--force', cid]);
    assert.equal(d.status, 0, d.stderr);
  } finally {
    if (state(b, cid) !== undefined) {
      runtime(b, ['resume', cid]);
      runtime(b, ['delete', '--force', cid]);
    }
  }
  assert.deepEqual(leftovers(b, cid), []);
});

test('ps --format json lists the host pids of the container; the table keeps only its lines', async () => {
  const cid = id('ps');
  const b = bundle(['sh', '-c', 'sleep 100 & sleep 100 & wait']);
  assert.equal(runtime(b, ['run', '-d', '--bundle', b.dir, cid]).status, 0);
  try {
    const initPid = state(b, cid)!.pid;
    let pids: number[] = [];
    await until(() => {
      pids = JSON.parse(runtime(b, ['ps', '--format', 'json', cid]).stdout) as number[];
      return pids.length === 3;
    }, 'three processes');
    assert.ok(pids.includes(initPid), 'the init is listed by its host pid');
    const comms = pids.map((p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim()).sort();
    assert.deepEqual(comms, ['sh', 'sleep', 'sleep']);
    assert.ok(!pids.includes(process.pid));

    const table = runtime(b, ['ps', cid, '-o', 'pid,comm']);
    assert.equal(table.status, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.match(lines[0]!, /PID/);
    assert.deepEqual(lines.slice(1).map((l) => Number(l.trim().split(/\s+/)[0])).sort(), [...pids].sort());
    assert.equal(runtime(b, ['ps', '-f', 'json', cid]).stdout.trim(), JSON.stringify([...pids].sort((x, y) => x - y)));
    assert.match(runtime(b, ['ps', '--format', 'yaml', cid]).stderr, /invalid format option/);
  } finally {
    assert.equal(runtime(b, ['delete', '--force', cid]).status, 0);
  }
  assert.deepEqual(leftovers(b, cid), []);
});
