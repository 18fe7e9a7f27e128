/**
 * The v2 driver against the real kernel's cgroup2 mount. On a hybrid host that is
 * /sys/fs/cgroup/unified with (almost) no controllers, so this covers the core interface:
 * mkdir, cgroup.procs, cgroup.freeze/cgroup.events, cpu.stat, unified core keys, controller
 * checks, rmdir. It never writes the mount root's cgroup.subtree_control on a non-v2 host.
 */

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { KapselError } from '../common/errors.js';
import type { CgroupManager } from './manager.js';
import { exited, spawnWaiting, unifiedTestCgroups, until } from './root-test-support.js';

const cgroups = unifiedTestCgroups(`kapsel-test-${process.pid}-v2`);
const { host, skip, parent: PARENT } = cgroups;

describe('cgroup v2 manager on the real kernel', { skip }, () => {
  const { mountPoint } = cgroups;
  const children: ChildProcess[] = [];
  let manager: CgroupManager | undefined;

  after(async () => {
    await manager?.thaw().catch(() => {});
    for (const c of children) {
      c.kill('SIGKILL');
      await exited(c);
    }
    await cgroups.cleanup();
    assert.deepEqual(readdirSync(mountPoint).filter((n) => n === PARENT), []);
  });

  it('creates, joins, freezes, reports and destroys a cgroup', async () => {
    const m = cgroups.create('c1');
    manager = m;
    assert.equal(m.mode, 'unified');
    const dir = m.paths()['unified']!;
    assert.equal(dir, `${mountPoint}/${PARENT}/c1`);
    assert.ok(existsSync(`${dir}/cgroup.procs`));

    // Core keys need no controller and are written verbatim.
    m.apply({ unified: { 'cgroup.max.descendants': '3' } });
    assert.equal(readFileSync(`${dir}/cgroup.max.descendants`, 'utf8').trim(), '3');
    assert.throws(() => m.apply({ unified: { '../cgroup.procs': '1' } }), (e: unknown) => e instanceof KapselError && e.code === 'ERR_CGROUP_RESOURCES');

    // A controller the hierarchy root does not offer fails before any write.
    const available = host!.v2!.controllers;
    if (!available.includes('pids')) {
      assert.throws(() => m.apply({ pids: { limit: 10 } }), (e: unknown) => e instanceof KapselError && e.code === 'ERR_CGROUP_CONTROLLER_MISSING');
      assert.equal(readFileSync(`${mountPoint}/cgroup.subtree_control`, 'utf8').includes('pids'), false);
    }

    const child = spawnWaiting('sleep 60');
    children.push(child);
    const pid = child.pid!;
    m.join(pid);
    child.stdin!.write('go\n');
    assert.deepEqual(m.pids(), [pid]);
    assert.ok(readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(`0::/${PARENT}/c1`));
    await until(() => (m.stats().cpu?.usageTotalNs ?? 0) > 0, 'cpu usage');

    await m.freeze();
    assert.equal(m.frozen(), true);
    assert.match(readFileSync(`${dir}/cgroup.events`, 'utf8'), /^frozen 1$/m);
    await m.thaw();
    assert.equal(m.frozen(), false);
    assert.match(readFileSync(`${dir}/cgroup.events`, 'utf8'), /^frozen 0$/m);
    assert.equal(m.oomKillCount(), 0);

    child.kill('SIGKILL');
    await exited(child);
    await m.destroy();
    assert.equal(existsSync(dir), false);
  });
});
