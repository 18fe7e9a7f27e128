/**
 * The v1 (and hybrid) driver against the real kernel. Everything lives under
 * `/kapsel-test-<pid>` in each hierarchy; nothing outside it is written, moved or removed.
 */

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { KapselError } from '../common/errors.js';
import { newCgroupManager } from './detect.js';
import type { CgroupManager } from './manager.js';
import { exited, spawnWaiting, testHost as host, until } from './root-test-support.js';

const skip = process.getuid?.() !== 0 ? 'needs root' : host === undefined || host.mode === 'unified' ? 'needs cgroup v1' : false;

const PARENT = `kapsel-test-${process.pid}`;
const MiB = 1024 * 1024;

/** Every hierarchy's mount point (v1 and the cgroup2 one), for cleanup checks. */
function mountPoints(): string[] {
  if (host === undefined) return [];
  return [...host.v1.map((h) => h.mountPoint), ...(host.v2 ? [host.v2.mountPoint] : [])];
}


function procState(pid: number): string {
  return /State:\s+(\S)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '?';
}

function read(path: string): string {
  return readFileSync(path, 'utf8').trim();
}

describe('cgroup v1 manager on the real kernel', { skip }, () => {
  const children: ChildProcess[] = [];
  const managers: CgroupManager[] = [];

  after(async () => {
    for (const m of managers) await m.thaw().catch(() => {});
    for (const c of children) {
      c.kill('SIGKILL');
      await exited(c);
    }
    for (const m of managers) await m.destroy().catch(() => {});
    for (const mp of mountPoints()) {
      if (existsSync(`${mp}/${PARENT}`)) rmdirSync(`${mp}/${PARENT}`);
    }
    for (const mp of mountPoints()) {
      const left = readdirSync(mp).filter((n) => n === PARENT);
      assert.deepEqual(left, [], `cgroup left behind in ${mp}`);
    }
  });

  it('refuses a cgroups path with `..` and creates nothing', () => {
    assert.throws(
      () => newCgroupManager({ cgroupsPath: `/${PARENT}/../../escape`, id: 'bad' }),
      (err: unknown) => err instanceof KapselError && err.code === 'ERR_CGROUP_PATH',
    );
    for (const mp of mountPoints()) assert.equal(existsSync(`${mp}/${PARENT}`), false);
  });

  it('creates, limits, joins, freezes, reports and destroys a cgroup', async () => {
    const m = newCgroupManager({ cgroupsPath: `/${PARENT}/c1`, id: 'c1' });
    managers.push(m);
    assert.equal(m.mode, host?.v2 !== undefined ? 'hybrid' : 'legacy');
    m.create();
    const paths = m.paths();
    for (const dir of new Set(Object.values(paths))) assert.ok(existsSync(dir), `${dir} exists`);
    const cpuset = paths['cpuset']!;
    assert.equal(read(`${cpuset}/cpuset.cpus`), read(`${host!.v1.find((h) => h.controllers.includes('cpuset'))!.mountPoint}/cpuset.cpus`));

    const dev = /^\s*(\d+)\s+(\d+)\s+\d+\s+\S+$/m.exec(read('/proc/partitions'));
    m.apply({
      memory: { limit: 64 * MiB, swap: 128 * MiB, reservation: 32 * MiB },
      pids: { limit: 32 },
      cpu: { shares: 512, quota: 50000, period: 100000 },
      devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }],
      ...(dev ? { blockIO: { throttleReadBpsDevice: [{ major: Number(dev[1]), minor: Number(dev[2]), rate: MiB }] } } : {}),
    });
    assert.equal(read(`${paths['memory']}/memory.limit_in_bytes`), String(64 * MiB));
    if (existsSync(`${paths['memory']}/memory.memsw.limit_in_bytes`)) {
      assert.equal(read(`${paths['memory']}/memory.memsw.limit_in_bytes`), String(128 * MiB));
    }
    assert.equal(read(`${paths['memory']}/memory.soft_limit_in_bytes`), String(32 * MiB));
    assert.equal(read(`${paths['pids']}/pids.max`), '32');
    assert.equal(read(`${paths['cpu']}/cpu.shares`), '512');
    assert.equal(read(`${paths['cpu']}/cpu.cfs_quota_us`), '50000');
    assert.equal(read(`${paths['cpu']}/cpu.cfs_period_us`), '100000');
    assert.equal(read(`${paths['devices']}/devices.list`), 'c 1:3 rwm');
    if (dev) assert.equal(read(`${paths['blkio']}/blkio.throttle.read_bps_device`), `${dev[1]}:${dev[2]} ${MiB}`);

    // Raising memory above the current memsw needs the reversed write order (EINVAL retry).
    m.update({ memory: { limit: 256 * MiB, swap: 512 * MiB } });
    assert.equal(read(`${paths['memory']}/memory.limit_in_bytes`), String(256 * MiB));

    const child = spawnWaiting('sleep 60');
    children.push(child);
    const pid = child.pid!;
    m.join(pid);
    child.stdin!.write('go\n');
    assert.deepEqual(m.pids(), [pid]);
    const procCgroup = parseProcCgroupFile(pid);
    assert.equal(procCgroup.get('memory'), `/${PARENT}/c1`);
    assert.equal(procCgroup.get('name=systemd'), `/${PARENT}/c1`);
    if (host?.v2 !== undefined) assert.equal(procCgroup.get(''), `/${PARENT}/c1`);

    await until(() => (m.stats().cpu?.usageTotalNs ?? 0) > 0 && (m.stats().memory?.usageBytes ?? 0) > 0, 'cpu and memory usage');
    await until(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep'), 'exec of sleep');
    const stats = m.stats();
    assert.equal(stats.pids?.current, 1);
    assert.equal(stats.pids?.limit, 32);
    assert.equal(stats.memory?.limitBytes, 256 * MiB);
    assert.ok((stats.cpu?.usageUserNs ?? 0) + (stats.cpu?.usageSystemNs ?? 0) > 0);
    assert.equal(m.oomKillCount(), 0);

    await m.freeze();
    assert.equal(m.frozen(), true);
    assert.equal(read(`${paths['freezer']}/freezer.state`), 'FROZEN');
    assert.equal(procState(pid), 'D');
    await m.thaw();
    assert.equal(m.frozen(), false);
    // thawed, the task runs again (briefly R) and goes back to sleep in nanosleep
    await until(() => procState(pid) === 'S', 'sleep asleep again after thaw');

    assert.throws(
      () => m.update({ memory: { limit: 4096, checkBeforeUpdate: true } }),
      (err: unknown) => err instanceof KapselError && err.code === 'ERR_CGROUP_MEMORY_BELOW_USAGE',
    );

    child.kill('SIGKILL');
    await exited(child);
    await m.destroy();
    for (const dir of new Set(Object.values(paths))) assert.equal(existsSync(dir), false, `${dir} removed`);
    await m.destroy(); // idempotent: ENOENT is not an error
  });

  it('counts an OOM kill', async () => {
    const m = newCgroupManager({ cgroupsPath: `/${PARENT}/oom`, id: 'oom' });
    managers.push(m);
    m.create();
    m.apply({ memory: { limit: 32 * MiB, swap: 32 * MiB } });
    const child = spawnWaiting(`${process.execPath} -e "const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1))"`);
    children.push(child);
    m.join(child.pid!);
    child.stdin!.write('go\n');
    await exited(child);
    assert.equal(child.signalCode, 'SIGKILL');
    assert.ok(m.oomKillCount() >= 1);
    assert.ok((m.stats().memory?.oomKills ?? 0) >= 1);
    await m.destroy();
  });
});

function parseProcCgroupFile(pid: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of read(`/proc/${pid}/cgroup`).split('\n')) {
    const [, controllers = '', path = ''] = line.split(':');
    if (controllers === '') out.set('', path);
    for (const c of controllers.split(',')) if (c !== '') out.set(c, path);
  }
  return out;
}
