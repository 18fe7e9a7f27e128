/**
 * cgroup v2 device rules end to end on the real kernel: the runtime's effective rules, compiled
 * by the cgroups eBPF emitter, loaded and attached by sys/bpf.ts through the v2 driver (the path
 * `create` takes on a unified host). On a hybrid host this runs on the cgroup2 mount
 * (/sys/fs/cgroup/unified): device programs attach there without controllers.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import type { CgroupManager } from '../cgroups/manager.js';
import { unifiedTestCgroups } from '../cgroups/root-test-support.js';
import type { DeviceCgroupRule } from '../oci/runtime-spec.js';
import { loadAndAttachDeviceProgram } from './container-cgroup.js';
import { effectiveDeviceRules } from './device-rules.js';

const cgroups = unifiedTestCgroups(`kapsel-devtest-${process.pid}`);

function run(dir: string, script: string): { status: number | null; stderr: string } {
  const r = spawnSync('/bin/sh', ['-c', `echo $$ > ${dir}/cgroup.procs && ${script}`], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

describe('v2 device rules through the eBPF loader', { skip: cgroups.skip }, () => {
  after(async () => {
    await cgroups.cleanup();
    assert.equal(existsSync(`${cgroups.mountPoint}/${cgroups.parent}`), false);
  });

  function cgroup(name: string): { m: CgroupManager; dir: string } {
    const m = cgroups.create(name, { loadAndAttachDeviceProgram });
    return { m, dir: m.paths()['unified']! };
  }

  it('the default rules allow the standard devices and refuse others', () => {
    const { m, dir } = cgroup('defaults');
    m.apply({ devices: effectiveDeviceRules([{ allow: false, access: 'rwm' }], []) });
    assert.equal(run(dir, 'echo x > /dev/null && cat /dev/null && head -c 1 /dev/zero >/dev/null').status, 0);
    const kmsg = run(dir, 'exec 3</dev/kmsg');
    assert.notEqual(kmsg.status, 0);
    assert.match(kmsg.stderr, /Operation not permitted/);
  });

  it('a deny rule after the defaults wins (last match), and update replaces the program', () => {
    const { m, dir } = cgroup('denynull');
    const rules: DeviceCgroupRule[] = [...effectiveDeviceRules([{ allow: false, access: 'rwm' }], []), { allow: false, type: 'c', major: 1, minor: 3, access: 'w' }];
    m.apply({ devices: rules });
    const w = run(dir, 'echo x > /dev/null');
    assert.notEqual(w.status, 0);
    assert.match(w.stderr, /Operation not permitted/);
    assert.equal(run(dir, 'cat /dev/null').status, 0, 'read access stays');
    m.update({ devices: effectiveDeviceRules([{ allow: false, access: 'rwm' }], []) });
    assert.equal(run(dir, 'echo x > /dev/null').status, 0);
  });
});
