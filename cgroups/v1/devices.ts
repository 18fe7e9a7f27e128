/**
 * v1 `devices` controller (Documentation/admin-guide/cgroup-v1/devices.rst).
 *
 * As runc does: `a` to devices.deny first (drop every inherited exception, whitelist mode),
 * then each rule in order to devices.allow or devices.deny. A catch-all allow (`a *:* rwm`)
 * switches the cgroup to blacklist mode. On a live cgroup there is a short window where
 * everything is denied; runc avoids it with a rule emulator, which kapsel does not have yet.
 */

import { write, type CgroupStep } from '../cgroup-plan.js';
import { deviceRuleString, isCatchAll, normaliseDeviceRule } from '../device-rules.js';
import type { DeviceCgroupRule } from '../../oci/runtime-spec.js';

export function planDevicesV1(devices: readonly DeviceCgroupRule[] | undefined): CgroupStep[] {
  if (devices === undefined) return [];
  const steps: CgroupStep[] = [write('devices.deny', 'a')];
  for (const raw of devices) {
    const rule = normaliseDeviceRule(raw);
    const file = rule.allow ? 'devices.allow' : 'devices.deny';
    steps.push(write(file, isCatchAll(rule) ? 'a' : deviceRuleString(rule)));
  }
  return steps;
}
