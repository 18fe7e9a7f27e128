/**
 * Device cgroup rules (config-linux.md "Allowed Device Listing"), shared by the v1 devices
 * controller (Documentation/admin-guide/cgroup-v1/devices.rst) and the v2 eBPF filter.
 *
 * A rule string is `<type> <major>:<minor> <access>`: type `a|b|c`, `*` for a wildcard
 * number, access a subset of `rwm`. Pure: no filesystem.
 */

import { invalidResource } from './cgroup-plan.js';
import type { DeviceCgroupRule } from '../oci/runtime-spec.js';

export type DeviceType = 'a' | 'b' | 'c';

export interface DeviceRule {
  readonly allow: boolean;
  readonly type: DeviceType;
  /** undefined is the wildcard. */
  readonly major: number | undefined;
  readonly minor: number | undefined;
  /** Canonical order `rwm`, never empty. */
  readonly access: string;
}

/** Linux dev_t limits: 12-bit major, 20-bit minor (include/linux/kdev_t.h MINORBITS). */
const MAX_MAJOR = 0xfff;
const MAX_MINOR = 0xfffff;

function normaliseNumber(name: string, value: number | undefined, max: number): number | undefined {
  if (value === undefined || value === -1) return undefined;
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw invalidResource(`invalid device ${name} ${value}: want -1 (any) or 0..${max}`);
  }
  return value;
}

function normaliseAccess(access: string | undefined): string {
  if (access === undefined || access === '') return 'rwm';
  if (!/^[rwm]+$/.test(access)) throw invalidResource(`invalid device access \`${access}\`: want letters from \`rwm\``);
  return ['r', 'w', 'm'].filter((c) => access.includes(c)).join('');
}

/** Validates a spec rule and fills defaults (type `a`, wildcard numbers, access `rwm`). */
export function normaliseDeviceRule(rule: DeviceCgroupRule): DeviceRule {
  const type = rule.type ?? 'a';
  if (type !== 'a' && type !== 'b' && type !== 'c') {
    throw invalidResource(`invalid device type \`${type}\`: want \`a\`, \`b\` or \`c\``);
  }
  return {
    allow: rule.allow,
    type,
    major: normaliseNumber('major', rule.major, MAX_MAJOR),
    minor: normaliseNumber('minor', rule.minor, MAX_MINOR),
    access: normaliseAccess(rule.access),
  };
}

/** `c 1:3 rwm`, `a *:* rwm`: the v1 devices.allow / devices.deny syntax. */
export function deviceRuleString(rule: DeviceRule): string {
  const num = (n: number | undefined): string => (n === undefined ? '*' : String(n));
  return `${rule.type} ${num(rule.major)}:${num(rule.minor)} ${rule.access}`;
}

/** True for a rule that matches every device and access (`a *:* rwm`). */
export function isCatchAll(rule: DeviceRule): boolean {
  return rule.type === 'a' && rule.major === undefined && rule.minor === undefined && rule.access === 'rwm';
}

export interface EffectiveDeviceRules {
  /** What happens when no rule matches. */
  readonly defaultAllow: boolean;
  /** The rules after the last catch-all, in list order. */
  readonly rules: readonly DeviceRule[];
}

/**
 * Reduces a rule list to a default and the rules that can still matter: a catch-all rule
 * (`a *:* rwm`) sets the default and discards every rule before it. The list starts from
 * "deny everything", as runc's spec conversion does.
 */
export function effectiveDeviceRules(rules: readonly DeviceCgroupRule[]): EffectiveDeviceRules {
  let defaultAllow = false;
  let kept: DeviceRule[] = [];
  for (const raw of rules) {
    const rule = normaliseDeviceRule(raw);
    if (isCatchAll(rule)) {
      defaultAllow = rule.allow;
      kept = [];
    } else {
      kept.push(rule);
    }
  }
  return { defaultAllow, rules: kept };
}
