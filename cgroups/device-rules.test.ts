import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeviceCgroupRule } from '../oci/runtime-spec.js';
import { deviceRuleString, effectiveDeviceRules, normaliseDeviceRule } from './device-rules.js';

describe('device rules', () => {
  it('formats v1 rule strings with `*` wildcards and canonical access', () => {
    const str = (r: Parameters<typeof normaliseDeviceRule>[0]) => deviceRuleString(normaliseDeviceRule(r));
    assert.equal(str({ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }), 'c 1:3 rwm');
    assert.equal(str({ allow: true, type: 'c', major: 136, access: 'wr' }), 'c 136:* rw');
    assert.equal(str({ allow: true, type: 'b', major: -1, minor: -1, access: 'm' }), 'b *:* m');
    assert.equal(str({ allow: false }), 'a *:* rwm');
    assert.equal(str({ allow: true, type: 'c', major: 10, minor: 200, access: '' }), 'c 10:200 rwm');
  });

  it('refuses bad types, numbers and access letters', () => {
    assert.throws(() => normaliseDeviceRule(JSON.parse('{"allow": true, "type": "p"}') as DeviceCgroupRule), /invalid device type `p`/);
    assert.throws(() => normaliseDeviceRule({ allow: true, major: 1.5 }), /invalid device major/);
    assert.throws(() => normaliseDeviceRule({ allow: true, minor: 0x100000 }), /invalid device minor/);
    assert.throws(() => normaliseDeviceRule({ allow: true, access: 'rwx' }), /invalid device access/);
  });

  it('starts from deny-all and lets a catch-all reset the list', () => {
    assert.deepEqual(effectiveDeviceRules([]), { defaultAllow: false, rules: [] });
    const r = effectiveDeviceRules([{ allow: true, type: 'c', major: 1, minor: 3 }, { allow: true }, { allow: false, type: 'b', access: 'w' }]);
    assert.equal(r.defaultAllow, true);
    assert.deepEqual(r.rules.map(deviceRuleString), ['b *:* w']);
    // a partial-access wildcard is not a catch-all
    assert.equal(effectiveDeviceRules([{ allow: true, access: 'm' }]).rules.length, 1);
  });
});
