/**
 * runtime-spec `linux.resources.unified` (config-linux.md "Unified"): cgroup v2 files written
 * verbatim. Keys are plain file names in the container's cgroup: one with `/` or `..` could
 * escape it, so both are refused.
 */

import { invalidResource, write, type CgroupStep } from '../cgroup-plan.js';

export function checkUnifiedKey(key: string): string {
  if (key === '' || key.includes('/') || key.includes('..') || key.includes('\0') || !/^[A-Za-z0-9_]+\.[A-Za-z0-9_.]+$/.test(key)) {
    throw invalidResource(`invalid unified cgroup key \`${key}\`: want a file name like \`memory.high\``);
  }
  return key;
}

/** `memory.high` → `memory`; core `cgroup.*` files need no controller. */
export function unifiedKeyController(key: string): string | undefined {
  const controller = key.slice(0, key.indexOf('.'));
  return controller === 'cgroup' ? undefined : controller;
}

export function planUnified(unified: Readonly<Record<string, string>> | undefined): CgroupStep[] {
  return Object.entries(unified ?? {}).map(([key, value]) => write(checkUnifiedKey(key), value));
}
