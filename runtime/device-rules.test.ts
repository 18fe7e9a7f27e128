import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeviceCgroupRule } from '../oci/runtime-spec.js';
import { defaultSpec } from '../oci/default-spec.js';
import { DEFAULT_DEVICES } from './rootfs/plan.js';
import { ALWAYS_ALLOWED, effectiveDeviceRules } from './device-rules.js';

const DENY_ALL: DeviceCgroupRule = { allow: false, access: 'rwm' };

describe('effectiveDeviceRules', () => {
  it('puts configured rules first, then the always-allowed list, then created devices', () => {
    const configured: DeviceCgroupRule[] = [DENY_ALL, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }];
    const rules = effectiveDeviceRules(configured, [
      { path: '/dev/fuse', type: 'c', major: 10, minor: 229 },
      { path: '/dev/sda', type: 'b', major: 8, minor: 0 },
    ]);
    assert.deepEqual(rules, [
      ...configured,
      ...ALWAYS_ALLOWED,
      { allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' },
      { allow: true, type: 'b', major: 8, minor: 0, access: 'rwm' },
    ]);
  });

  it('gives the default spec deny-all followed by the always-allowed list', () => {
    const linux = defaultSpec().linux;
    const rules = effectiveDeviceRules(linux?.resources?.devices, linux?.devices);
    assert.deepEqual(rules, [DENY_ALL, ...ALWAYS_ALLOWED]);
  });

  it('works with nothing configured', () => {
    assert.deepEqual(effectiveDeviceRules(undefined, undefined), [...ALWAYS_ALLOWED]);
    assert.deepEqual(effectiveDeviceRules([], []), [...ALWAYS_ALLOWED]);
  });

  it('allows every default device the rootfs plan creates', () => {
    for (const d of DEFAULT_DEVICES) {
      const ok = ALWAYS_ALLOWED.some((r) => r.allow && r.type === d.type && r.major === d.major && r.minor === d.minor && r.access === 'rwm');
      assert.ok(ok, `${d.path} ${d.major}:${d.minor}`);
    }
  });

  it('allows mknod of any char and block device, ptys, ptmx and tun', () => {
    const has = (r: DeviceCgroupRule) => ALWAYS_ALLOWED.some((a) => JSON.stringify(a) === JSON.stringify(r));
    assert.ok(has({ allow: true, type: 'c', access: 'm' }));
    assert.ok(has({ allow: true, type: 'b', access: 'm' }));
    assert.ok(has({ allow: true, type: 'c', major: 136, access: 'rwm' }));
    assert.ok(has({ allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }));
    assert.ok(has({ allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' }));
  });

  it('maps unbuffered char devices to `c`, skips FIFOs and defaults missing numbers to 0', () => {
    const rules = effectiveDeviceRules([], [
      { path: '/dev/kmsg', type: 'u', major: 1, minor: 11 },
      { path: '/dev/fifo', type: 'p' },
      { path: '/dev/odd', type: 'c' },
    ]);
    assert.deepEqual(rules.slice(ALWAYS_ALLOWED.length), [
      { allow: true, type: 'c', major: 1, minor: 11, access: 'rwm' },
      { allow: true, type: 'c', major: 0, minor: 0, access: 'rwm' },
    ]);
  });

  it('does not modify its inputs', () => {
    const configured: DeviceCgroupRule[] = [DENY_ALL];
    const before = JSON.stringify(configured);
    const always = JSON.stringify(ALWAYS_ALLOWED);
    const rules = effectiveDeviceRules(configured, []);
    rules.push({ allow: true });
    assert.equal(JSON.stringify(configured), before);
    assert.equal(JSON.stringify(ALWAYS_ALLOWED), always);
    assert.equal(effectiveDeviceRules(configured, []).length, 1 + ALWAYS_ALLOWED.length);
  });
});
