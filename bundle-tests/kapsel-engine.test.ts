// The docker-like `kapsel` CLI on real containers of the embedded busybox image: attached and
// detached runs, exit codes, a real pty, exec, logs, stop, restart policies, limits, inspect,
// names, and a killed monitor. Store and state roots are the test's own; after every test
// nothing may be left: no container, monitor process, runtime state, cgroup or mount.
import { test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, cgroupsNamed, mountsUnder, sleepMs } from './helpers.js';

const KAPSEL = join(REPO, 'bin', 'kapsel');
const store = mkdtempSync(join(tmpdir(), 'kapsel-cli-store-'));
const state = mkdtempSync(join(tmpdir(), 'kapsel-cli-state-'));
const env = { ...process.env, KAPSEL_STORE: store, KAPSEL_STATE: state };

interface Result { status: number | null; stdout: string; stderr: string }

function kapsel(args: string[], input?: string): Result {
  const r = spawnSync(KAPSEL, args, { env, timeout: 120_000, ...(input !== undefined && { input }) });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

function ok(args: string[]): string {
  const r = kapsel(args);
  assert.equal(r.status, 0, `kapsel ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function inspect(name: string): { Id: string; State: Record<string, unknown>; RestartCount: number; Config: Record<string, unknown>; HostConfig: Record<string, unknown>; Name: string; NetworkSettings: unknown; Mounts: unknown[] } {
  return JSON.parse(ok(['inspect', name]))[0];
}

/** Host processes whose command line names our store (monitors, exit handlers, creates). */
function processesOfStore(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(store)) out.push(`${pid} ${cmd.replaceAll('\0', ' ')}`);
    } catch {
      // exited
    }
  }
  return out;
}

/** Waits until `fn` holds, polling (the condition is asserted by the caller afterwards). */
async function until(fn: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn() && Date.now() < deadline) await sleepMs(50);
}

const ids: string[] = [];

afterEach(async () => {
  for (const id of kapsel(['ps', '-a', '-q']).stdout.split('\n').filter(Boolean)) kapsel(['rm', '-f', id]);
  await until(() => processesOfStore().length === 0, 5000);
  assert.deepEqual(processesOfStore(), [], 'no monitor or helper process is left');
  assert.deepEqual(readdirSync(state), [], 'no runtime state is left');
  const left = existsSync(join(store, 'containers')) ? readdirSync(join(store, 'containers')).filter((n) => /^[0-9a-f]{64}$/.test(n)) : [];
  assert.deepEqual(left, [], 'no container directory is left');
  for (const id of ids.splice(0)) assert.deepEqual(cgroupsNamed(id), [], `no cgroup of ${id} is left`);
  assert.deepEqual(mountsUnder(store), []);
});

after(() => {
  rmSync(store, { recursive: true, force: true });
  rmSync(state, { recursive: true, force: true });
});

test('attached run: stdout and stderr apart, the exit status passes through, --rm leaves nothing', () => {
  const r = kapsel(['run', '--rm', '--name', 'cli-att', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  assert.equal(r.status, 3, r.stderr);
  assert.equal(r.stdout, 'out\n');
  assert.equal(r.stderr, 'err\n');
  assert.equal(kapsel(['inspect', 'cli-att']).status, 125, '--rm removed the container');
});

test('docker exit codes: 125 unknown image, 127 unknown command, 126 not executable; clear messages', () => {
  const unknown = kapsel(['run', '--rm', 'no/such-image', 'true']);
  assert.equal(unknown.status, 125);
  assert.match(unknown.stderr, /image `docker\.io\/no\/such-image:latest` is not in the image store/);
  const missing = kapsel(['run', '--rm', 'busybox', 'nosuchcmd']);
  assert.equal(missing.status, 127);
  assert.match(missing.stderr, /nosuchcmd.*not found/);
  const notExec = kapsel(['run', '--rm', 'busybox', '/etc/passwd']);
  assert.equal(notExec.status, 126, notExec.stderr);
});

test('-it gives a real pty with the caller\'s window size; keys reach the shell; exit status passes through', () => {
  const cmd = `stty rows 27 cols 91; ${KAPSEL} run --rm -it busybox sh`;
  const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], { env, input: 'tty; stty size; echo sum-$((40+2))\nexit 4\n', timeout: 60_000 });
  const out = r.stdout.toString();
  assert.equal(r.status, 4, out);
  assert.match(out, /\/dev\/pts\/0/);
  assert.match(out, /27 91/);
  assert.match(out, /sum-42/);
});

test('-i relays stdin to the container, which sees its end', () => {
  const r = kapsel(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'wc -l; exit 2'], 'a\nb\nc\n');
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout.trim(), '3');
});

test('detached: the id is printed, the container outlives the CLI, exec runs in it, logs show it', async () => {
  const id = ok(['run', '-d', '--name', 'cli-det', '-e', 'GREETING=hi', 'busybox', 'sh', '-c', 'i=0; while true; do echo line $i; i=$((i+1)); sleep 0.1; done']).trim();
  ids.push(id);
  assert.match(id, /^[0-9a-f]{64}$/);
  const ps = JSON.parse(ok(['ps', '--format', 'json']).trim().split('\n')[0]!);
  assert.equal(ps.Names, 'cli-det');
  assert.equal(ps.State, 'running');
  const ex = kapsel(['exec', '-e', 'X=1', 'cli-det', 'sh', '-c', 'echo $GREETING$X; cat /proc/1/cmdline | tr "\\0" " "']);
  assert.equal(ex.status, 0, ex.stderr);
  assert.match(ex.stdout, /^hi1\nsh -c i=0/);
  assert.equal(kapsel(['exec', 'cli-det', 'sh', '-c', 'exit 6']).status, 6);
  await until(() => ok(['logs', 'cli-det']).includes('line 5'));
  const tail = ok(['logs', '--tail', '2', id.slice(0, 10)]).trim().split('\n');
  assert.equal(tail.length, 2);
  assert.match(tail[0]!, /^line \d+$/);
  const stamped = ok(['logs', '-t', '--tail', '1', 'cli-det']);
  assert.match(stamped, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line \d+\n$/);
  const raw = readFileSync(join(store, 'containers', id, 'container.log'), 'utf8').split('\n')[0]!;
  assert.deepEqual(Object.keys(JSON.parse(raw)), ['log', 'stream', 'time'], 'docker json-file lines');
});

test('logs -f follows a detached container until it exits', () => {
  const id = ok(['run', '-d', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo n$i; sleep 0.3; done']).trim();
  ids.push(id);
  const r = kapsel(['logs', '-f', id]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'n1\nn2\nn3\n');
  assert.equal(ok(['wait', id]).trim(), '0');
});

test('stop: a container that traps the stop signal exits by it; one that ignores it is killed after -t', async () => {
  const trap = ok(['run', '-d', '--name', 'cli-trap', 'busybox', 'sh', '-c', 'trap "echo bye; exit 7" TERM; while true; do sleep 0.1; done']).trim();
  const usr1 = ok(['run', '-d', '--name', 'cli-usr1', '--stop-signal', 'USR1', 'busybox', 'sh', '-c', 'trap "exit 9" USR1; trap "" TERM; while true; do sleep 0.1; done']).trim();
  const deaf = ok(['run', '-d', '--name', 'cli-deaf', 'busybox', 'sh', '-c', 'trap "" TERM; while true; do sleep 0.1; done']).trim();
  ids.push(trap, usr1, deaf);
  await sleepMs(300); // let the shells install their traps
  ok(['stop', 'cli-trap']);
  assert.equal(inspect('cli-trap').State['ExitCode'], 7);
  assert.match(ok(['logs', 'cli-trap']), /bye/);
  ok(['stop', 'cli-usr1']);
  assert.equal(inspect('cli-usr1').State['ExitCode'], 9, '--stop-signal is used');
  ok(['stop', '-t', '1', 'cli-deaf']);
  const s = inspect('cli-deaf').State;
  assert.equal(s['ExitCode'], 137, 'SIGKILL after the timeout');
  assert.equal(s['Running'], false);
  assert.equal(inspect('cli-deaf').RestartCount, 0);
});

test('kill -s sends the signal; start brings an exited container back; restart too', async () => {
  const id = ok(['run', '-d', '--name', 'cli-kill', 'busybox', 'sh', '-c', 'trap "exit 5" USR2; echo started; while true; do sleep 0.1; done']).trim();
  ids.push(id);
  await sleepMs(300);
  ok(['kill', '-s', 'USR2', 'cli-kill']);
  assert.equal(ok(['wait', 'cli-kill']).trim(), '5');
  ok(['start', 'cli-kill']);
  assert.equal(inspect('cli-kill').State['Running'], true);
  await sleepMs(300);
  ok(['restart', '-t', '1', 'cli-kill']);
  assert.equal(inspect('cli-kill').State['Running'], true);
  await until(() => (ok(['logs', 'cli-kill']).match(/started/g) ?? []).length === 3);
  assert.equal((ok(['logs', 'cli-kill']).match(/started/g) ?? []).length, 3, 'three runs logged');
  ok(['kill', 'cli-kill']);
  assert.equal(ok(['wait', 'cli-kill']).trim(), '137');
});

test('--restart on-failure:2 restarts twice; always restarts until stopped', async () => {
  const f = ok(['run', '-d', '--name', 'cli-onf', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'echo run; exit 1']).trim();
  ids.push(f);
  await until(() => inspect('cli-onf').RestartCount === 2 && inspect('cli-onf').State['Status'] === 'exited');
  await sleepMs(500);
  const i = inspect('cli-onf');
  assert.equal(i.RestartCount, 2);
  assert.equal(i.State['Status'], 'exited');
  assert.equal(i.State['ExitCode'], 1);
  assert.equal(ok(['logs', 'cli-onf']), 'run\nrun\nrun\n');
  const a = ok(['run', '-d', '--name', 'cli-alw', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.2; exit 0']).trim();
  ids.push(a);
  await until(() => inspect('cli-alw').RestartCount >= 2);
  assert.ok(inspect('cli-alw').RestartCount >= 2);
  ok(['stop', '-t', '1', 'cli-alw']);
  await sleepMs(1000);
  const stopped = inspect('cli-alw');
  assert.equal(stopped.State['Status'], 'exited', 'a stopped container is not restarted');
  const count = stopped.RestartCount;
  await sleepMs(800);
  assert.equal(inspect('cli-alw').RestartCount, count);
});

test('limits are visible inside the container and enforced (OOM kill -> OOMKilled, 137)', () => {
  const r = kapsel(['run', '--rm', '--memory', '32m', '--pids-limit', '50', '--cpus', '0.5', '--cpu-shares', '512', 'busybox', 'sh', '-c',
    'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null; true']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['33554432', '50']);
  const oom = kapsel(['run', '--name', 'cli-oom', '--memory', '16m', '--memory-swap', '16m', 'busybox', 'sh', '-c', 'x=a; while true; do x="$x$x"; done']);
  assert.equal(oom.status, 137);
  const s = inspect('cli-oom');
  ids.push(s.Id);
  assert.equal(s.State['OOMKilled'], true);
  assert.equal(s.State['ExitCode'], 137);
  const pids = kapsel(['run', '--rm', '--pids-limit', '5', 'busybox', 'sh', '-c', 'for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; wait']);
  assert.match(pids.stderr, /can't fork|Resource temporarily unavailable/, 'the pids limit stops the 6th process');
});

test('inspect: docker fields for a running container; names are unique; ids resolve by prefix', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kapsel-cli-vol-'));
  writeFileSync(join(dir, 'f'), 'from host');
  try {
    const id = ok(['run', '-d', '--name', 'cli-insp', '-e', 'A=b', '-v', `${dir}:/data:ro`, '--memory', '64m', '--restart', 'on-failure:3', 'busybox', 'sleep', '100']).trim();
    ids.push(id);
    const i = inspect('cli-insp');
    assert.equal(i.Id, id);
    assert.equal(i.Name, '/cli-insp');
    assert.equal(i.State['Status'], 'running');
    assert.equal(i.State['Running'], true);
    assert.ok((i.State['Pid'] as number) > 0 && existsSync(`/proc/${i.State['Pid'] as number}`));
    assert.match(i.State['StartedAt'] as string, /^\d{4}-/);
    assert.ok((i.Config['Env'] as string[]).includes('A=b'));
    assert.deepEqual(i.Config['Cmd'], ['sleep', '100']);
    assert.equal(i.HostConfig['Memory'], 64 * 1024 * 1024);
    assert.deepEqual(i.HostConfig['RestartPolicy'], { Name: 'on-failure', MaximumRetryCount: 3 });
    assert.deepEqual(i.Mounts, [{ Type: 'bind', Source: dir, Destination: '/data', Mode: 'ro', RW: false, Propagation: 'rprivate' }]);
    assert.ok(i.NetworkSettings !== undefined);
    assert.equal(ok(['exec', 'cli-insp', 'cat', '/data/f']), 'from host');
    assert.notEqual(kapsel(['exec', 'cli-insp', 'sh', '-c', 'echo x > /data/f']).status, 0, ':ro is read-only');
    assert.equal(inspect(id.slice(0, 8)).Id, id, 'a unique id prefix finds it');
    const dup = kapsel(['run', '-d', '--name', 'cli-insp', 'busybox', 'true']);
    assert.equal(dup.status, 125);
    assert.match(dup.stderr, /the container name `cli-insp` is already in use by container [0-9a-f]{12}/);
    const rmRunning = kapsel(['rm', 'cli-insp']);
    assert.notEqual(rmRunning.status, 0);
    assert.match(rmRunning.stderr, /cannot remove container cli-insp: it is running/);
    const missing = kapsel(['inspect', 'no-such-ctr']);
    assert.equal(missing.status, 125);
    assert.match(missing.stderr, /container or image `no-such-ctr` does not exist/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a monitor killed with SIGKILL leaves ps truthful, and rm -f cleans up', async () => {
  const id = ok(['run', '-d', '--name', 'cli-orphan', 'busybox', 'sleep', '1000']).trim();
  ids.push(id);
  const rec = JSON.parse(readFileSync(join(store, 'containers', id, 'container.json'), 'utf8'));
  assert.ok(rec.monitorPid > 0);
  process.kill(rec.monitorPid, 'SIGKILL');
  await until(() => !existsSync(`/proc/${rec.monitorPid}/cmdline`) || readFileSync(`/proc/${rec.monitorPid}/stat`, 'utf8').includes(') Z'));
  const ps = JSON.parse(ok(['ps', '--format', 'json']).trim());
  assert.equal(ps.State, 'running', 'the init still runs: ps says so');
  const pid = inspect('cli-orphan').State['Pid'] as number;
  process.kill(pid, 'SIGKILL');
  await until(() => ok(['ps', '-q']).trim() === '');
  assert.equal(ok(['ps', '-q']).trim(), '', 'the init died: ps no longer lists it as running');
  assert.equal(JSON.parse(ok(['ps', '-a', '--format', 'json']).trim()).State, 'exited');
  ok(['rm', '-f', 'cli-orphan']);
});

test('stats, top, live update, rename and container prune', () => {
  const id = ok(['run', '-d', '--name', 'cli-res', '--memory', '64m', 'busybox', 'sh', '-c', 'while true; do sleep 0.05; done']).trim();
  ids.push(id);
  const stats = JSON.parse(ok(['stats', '--no-stream', '--format', 'json', 'cli-res']).trim());
  assert.equal(stats.Name, 'cli-res');
  assert.equal(stats.MemLimitBytes, 64 * 1024 * 1024);
  assert.ok(stats.Pids >= 1);
  assert.match(ok(['top', 'cli-res']), /sh -c while true/);
  ok(['update', '--memory', '128m', '--pids-limit', '33', 'cli-res']);
  assert.deepEqual(ok(['exec', 'cli-res', 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/pids/pids.max']).trim().split('\n'), ['134217728', '33']);
  assert.equal(inspect('cli-res').HostConfig['Memory'], 128 * 1024 * 1024);
  ok(['rename', 'cli-res', 'cli-res2']);
  assert.equal(inspect(id).Name, '/cli-res2');
  assert.equal(kapsel(['inspect', 'cli-res']).status, 125, 'the old name is free');
  const done = ok(['run', '--name', 'cli-done', 'busybox', 'true']);
  assert.equal(done, '');
  const pruned = ok(['container', 'prune']);
  assert.match(pruned, /Total: 1 containers removed/);
  assert.equal(kapsel(['inspect', 'cli-done']).status, 125);
  assert.equal(inspect('cli-res2').State['Running'], true, 'prune leaves running containers');
});

test('the Kapsel class API: run, stats, live update, logs, exec, stop, wait, remove', async () => {
  const { Kapsel } = await import('../index.js');
  const k = await Kapsel.open({ storeRoot: store, stateRoot: state });
  const id = await k.run('busybox', ['sh', '-c', 'trap "exit 4" TERM; echo up; while true; do sleep 0.1; done'], { memory: '32m', name: 'cli-api' });
  ids.push(id);
  assert.equal(k.list().find((r) => r.Id === id)?.State, 'running');
  for await (const s of k.stats(id, { intervalMs: 100 })) {
    assert.equal(s.MemLimitBytes, 32 * 1024 * 1024);
    break;
  }
  await k.update('cli-api', { memory: '48m' });
  assert.equal((k.inspect(id)['HostConfig'] as { Memory: number }).Memory, 48 * 1024 * 1024);
  await until(() => existsSync(join(store, 'containers', id, 'container.log')) && readFileSync(join(store, 'containers', id, 'container.log'), 'utf8').includes('up'));
  assert.deepEqual((await k.logs(id)).map((l) => l.log), ['up\n']);
  await k.stop(id, { timeoutS: 5 });
  assert.equal(await k.wait(id), 4);
  await k.remove(id);
  assert.equal(k.list({ all: true }).some((r) => r.Id === id), false);
});

test('system info counts containers; port names an unknown container', () => {
  const id = ok(['run', '--name', 'cli-info', 'busybox', 'true']);
  assert.equal(id, '');
  const info = JSON.parse(ok(['system', 'info', '--format', 'json']));
  assert.equal(info.Containers, 1);
  assert.equal(info.ContainersStopped, 1);
  assert.equal(info.StoreRoot, store);
  assert.equal(ok(['port', 'cli-info']), '');
  assert.match(kapsel(['port', 'nope']).stderr, /container `nope` does not exist/);
  ids.push(inspect('cli-info').Id);
});

test('concurrent runs with one name: exactly one wins, the others get the name conflict', async () => {
  const { spawn } = await import('node:child_process');
  const runs = await Promise.all([1, 2, 3].map(() => new Promise<Result>((resolve) => {
    const c = spawn(KAPSEL, ['run', '-d', '--name', 'cli-race', 'busybox', 'sleep', '30'], { env });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    c.on('close', (status) => resolve({ status, stdout, stderr }));
  })));
  const winners = runs.filter((r) => r.status === 0);
  assert.equal(winners.length, 1, JSON.stringify(runs));
  for (const r of runs.filter((x) => x.status !== 0)) {
    assert.equal(r.status, 125);
    assert.match(r.stderr, /the container name `cli-race` is already in use/);
  }
  ids.push(winners[0]!.stdout.trim());
  assert.equal(JSON.parse(ok(['ps', '-a', '--format', 'json']).trim()).Names, 'cli-race');
});

test('run -d --rm: the exit handler removes the container when it exits', async () => {
  const id = ok(['run', '-d', '--rm', 'busybox', 'sh', '-c', 'sleep 0.5; exit 3']).trim();
  ids.push(id);
  assert.equal(JSON.parse(ok(['inspect', id]))[0].HostConfig.AutoRemove, true);
  await until(() => !existsSync(join(store, 'containers', id)));
  assert.equal(existsSync(join(store, 'containers', id)), false);
  assert.equal(kapsel(['inspect', id]).status, 125);
});

test('json-file logs rotate at --log-opt max-size, keeping max-file files; logs reads them in order', () => {
  const out = ok(['run', '--name', 'cli-rot', '--log-opt', 'max-size=2k', '--log-opt', 'max-file=3', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done']);
  assert.equal(out.split('\n').length, 301, 'the attached run printed every line');
  const dir = join(store, 'containers', inspect('cli-rot').Id);
  ids.push(inspect('cli-rot').Id);
  const files = readdirSync(dir).filter((f) => f.startsWith('container.log')).sort();
  assert.deepEqual(files, ['container.log', 'container.log.1', 'container.log.2']);
  for (const f of files.slice(1)) assert.ok(readFileSync(join(dir, f)).length >= 2048 && readFileSync(join(dir, f)).length < 2048 + 200, `${f} was rotated near 2k`);
  const lines = ok(['logs', 'cli-rot']).trim().split('\n');
  assert.equal(lines.at(-1), 'line-299');
  const nums = lines.map((l) => Number(l.slice(5)));
  assert.deepEqual(nums, nums.slice().sort((a, b) => a - b), 'oldest rotated file first, in order, no duplicates');
  assert.ok(nums[0]! > 0, 'the oldest lines were rotated away');
  assert.deepEqual(nums, Array.from({ length: nums.length }, (_, i) => nums[0]! + i), 'nothing lost within the kept files');
});

test('exec -it gives the process a pty of the container with the caller\'s window size', () => {
  const id = ok(['run', '-d', '--name', 'cli-exectty', 'busybox', 'sleep', '100']).trim();
  ids.push(id);
  const cmd = `stty rows 31 cols 97; ${KAPSEL} exec -it cli-exectty sh -c 'tty; stty size; exit 5'`;
  const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], { env, timeout: 60_000 });
  const out = r.stdout.toString();
  assert.equal(r.status, 5, out);
  assert.match(out, /\/dev\/pts\/\d+/);
  assert.match(out, /31 97/);
});
