/**
 * Validation of `linux` (config-linux.md) except `resources` and `seccomp`, which have their own
 * files. Rules beyond JSON types, each with its source:
 * - namespaces: known types, no duplicates, `path` absolute (config-linux.md "Namespaces").
 * - uid/gid mappings: only with a user namespace; a new user namespace needs both (runc); each
 *   range non-empty, inside uint32, not overlapping, at most 340 lines (user_namespaces(7)).
 * - timeOffsets: clocks `monotonic` and `boottime` only, a new time namespace to write them into,
 *   nanosecs below 1e9 (time_namespaces(7)).
 * - devices: type c/b/u/p, major and minor unless `p`, absolute path (config-linux.md "Devices").
 * - sysctl: only keys the kernel scopes to a namespace the config unshares (runc's rules).
 * - maskedPaths/readonlyPaths absolute and only with a mount namespace (runc); intelRdt.memBwSchema starts with `MB:` (config-linux.md).
 */

import {
  DEVICE_TYPES, NAMESPACE_TYPES, PERSONALITY_DOMAINS, ROOTFS_PROPAGATIONS, TIME_OFFSET_CLOCKS,
  type NamespaceType,
} from './runtime-spec.js';
import { checkResources } from './validate-resources.js';
import { checkSeccomp } from './validate-seccomp.js';
import {
  childPath, indexPath, isAbsolutePath, isObject, type Checker, type JsonObject,
} from './validate-context.js';

const MAX_ID_MAP_LINES = 340; // user_namespaces(7): limit since Linux 4.15
const NSEC_PER_SEC = 1_000_000_000;

/** Namespace type → its `path` ('' for a new namespace), read leniently from a raw config. */
export type DeclaredNamespaces = ReadonlyMap<NamespaceType, string>;

export function declaredNamespaces(spec: JsonObject): DeclaredNamespaces {
  const out = new Map<NamespaceType, string>();
  const linux = spec['linux'];
  const list = isObject(linux) ? linux['namespaces'] : undefined;
  if (!Array.isArray(list)) return out;
  for (const ns of list) {
    if (!isObject(ns) || typeof ns['type'] !== 'string') continue;
    const type = ns['type'] as NamespaceType;
    if (!NAMESPACE_TYPES.includes(type) || out.has(type)) continue;
    out.set(type, typeof ns['path'] === 'string' ? ns['path'] : '');
  }
  return out;
}

export function checkLinux(c: Checker, spec: JsonObject, path: string, namespaces: DeclaredNamespaces): void {
  const linux = c.optObject(spec, 'linux', path);
  if (linux === undefined) return;
  const at = childPath(path, 'linux');
  checkNamespaces(c, linux, at);
  checkUserMappings(c, linux, at, namespaces);
  checkTimeOffsets(c, linux, at, namespaces);
  checkDevices(c, linux, at);
  c.optString(linux, 'cgroupsPath', at);
  checkResources(c, linux, at);
  checkIntelRdt(c, linux, at);
  checkSysctl(c, linux, at, namespaces);
  checkSeccomp(c, linux, at);
  c.optEnum(linux, 'rootfsPropagation', at, ROOTFS_PROPAGATIONS);
  for (const key of ['maskedPaths', 'readonlyPaths']) {
    const paths = c.optStringArray(linux, key, at) ?? [];
    for (const [i, p] of paths) {
      if (!isAbsolutePath(p)) c.fail(indexPath(childPath(at, key), i), `must be an absolute path (got ${JSON.stringify(p)})`);
    }
    // Masking mounts over paths; without a private mount namespace that would hit the host (runc).
    if (paths.length > 0 && !namespaces.has('mount')) c.fail(childPath(at, key), 'requires a mount namespace in linux.namespaces');
  }
  c.optString(linux, 'mountLabel', at);
  const personality = c.optObject(linux, 'personality', at);
  if (personality !== undefined) {
    const pAt = childPath(at, 'personality');
    c.optEnum(personality, 'domain', pAt, PERSONALITY_DOMAINS, true);
    c.optStringArray(personality, 'flags', pAt);
  }
}

function checkNamespaces(c: Checker, linux: JsonObject, path: string): void {
  const first = new Map<string, string>();
  c.eachObject(linux, 'namespaces', path, (ns, at) => {
    const type = c.optEnum(ns, 'type', at, NAMESPACE_TYPES, true);
    c.absPath(ns, 'path', at, false);
    if (type === undefined) return;
    const seen = first.get(type);
    if (seen !== undefined) c.fail(childPath(at, 'type'), `duplicates the ${type} namespace at ${seen}`);
    else first.set(type, at);
  });
}

function checkUserMappings(c: Checker, linux: JsonObject, path: string, namespaces: DeclaredNamespaces): void {
  const uids = checkIdMappings(c, linux, 'uidMappings', path);
  const gids = checkIdMappings(c, linux, 'gidMappings', path);
  const userns = namespaces.get('user');
  if (userns === undefined) {
    for (const [key, given] of [['uidMappings', uids], ['gidMappings', gids]] as const) {
      if (given) c.fail(childPath(path, key), 'requires a user namespace in linux.namespaces');
    }
  } else if (userns === '') {
    for (const [key, given] of [['uidMappings', uids], ['gidMappings', gids]] as const) {
      if (!given) c.fail(childPath(path, key), 'is required to create a new user namespace');
    }
  }
}

/**
 * Checks an array of id mappings (linux.uidMappings, mounts[].uidMappings ...). Returns whether
 * a non-empty array was given.
 */
export function checkIdMappings(c: Checker, obj: JsonObject, key: string, path: string): boolean {
  const ranges: Array<{ at: string; inside: number; outside: number; size: number }> = [];
  c.eachObject(obj, key, path, (m, at) => {
    const inside = c.reqInt(m, 'containerID', at, 'uint32');
    const outside = c.reqInt(m, 'hostID', at, 'uint32');
    const size = c.reqInt(m, 'size', at, 'uint32');
    if (size === 0) c.fail(childPath(at, 'size'), 'must be at least 1');
    if (inside === undefined || outside === undefined || size === undefined || size === 0) return;
    if (inside + size > 2 ** 32 || outside + size > 2 ** 32) {
      c.fail(childPath(at, 'size'), 'makes the range run past 4294967295');
      return;
    }
    for (const other of ranges) {
      if (overlaps(inside, size, other.inside, other.size)) c.fail(at, `overlaps ${other.at} in the container`);
      else if (overlaps(outside, size, other.outside, other.size)) c.fail(at, `overlaps ${other.at} on the host`);
    }
    ranges.push({ at, inside, outside, size });
  });
  const list = obj[key];
  if (Array.isArray(list) && list.length > MAX_ID_MAP_LINES) {
    c.fail(childPath(path, key), `has ${list.length} entries; the kernel accepts at most ${MAX_ID_MAP_LINES}`);
  }
  return Array.isArray(list) && list.length > 0;
}

function overlaps(a: number, aSize: number, b: number, bSize: number): boolean {
  return a < b + bSize && b < a + aSize;
}

function checkTimeOffsets(c: Checker, linux: JsonObject, path: string, namespaces: DeclaredNamespaces): void {
  const offsets = c.optObject(linux, 'timeOffsets', path);
  if (offsets === undefined) return;
  const at = childPath(path, 'timeOffsets');
  for (const [clock, value] of Object.entries(offsets)) {
    const clockAt = childPath(at, clock);
    c.enumValue(clock, clockAt, TIME_OFFSET_CLOCKS);
    const offset = c.object(value, clockAt);
    if (offset === undefined) continue;
    c.optInt(offset, 'secs', clockAt, 'int64');
    const nsec = c.optInt(offset, 'nanosecs', clockAt, 'uint32');
    if (nsec !== undefined && nsec >= NSEC_PER_SEC) c.fail(childPath(clockAt, 'nanosecs'), `must be below ${NSEC_PER_SEC}`);
  }
  const timens = namespaces.get('time');
  if (timens === undefined) c.fail(at, 'requires a time namespace in linux.namespaces');
  else if (timens !== '') c.fail(at, 'cannot be applied to a time namespace that is joined by path');
}

function checkDevices(c: Checker, linux: JsonObject, path: string): void {
  c.eachObject(linux, 'devices', path, (dev, at) => {
    const type = c.optEnum(dev, 'type', at, DEVICE_TYPES, true);
    c.absPath(dev, 'path', at, true);
    const numbersRequired = type !== undefined && type !== 'p';
    c.optInt(dev, 'major', at, 'int64', numbersRequired);
    c.optInt(dev, 'minor', at, 'int64', numbersRequired);
    c.optInt(dev, 'fileMode', at, 'uint32');
    c.optInt(dev, 'uid', at, 'uint32');
    c.optInt(dev, 'gid', at, 'uint32');
  });
}

function checkIntelRdt(c: Checker, linux: JsonObject, path: string): void {
  const rdt = c.optObject(linux, 'intelRdt', path);
  if (rdt === undefined) return;
  const at = childPath(path, 'intelRdt');
  const closID = c.optString(rdt, 'closID', at);
  // closID names a directory under the resctrl mount.
  if (closID !== undefined && (closID.includes('/') || closID === '.' || closID === '..' || closID.includes('\n'))) {
    c.fail(childPath(at, 'closID'), `must be a plain directory name (got ${JSON.stringify(closID)})`);
  }
  c.optString(rdt, 'l3CacheSchema', at);
  const mb = c.optString(rdt, 'memBwSchema', at);
  if (mb !== undefined && (!mb.startsWith('MB:') || mb.includes('\n'))) {
    c.fail(childPath(at, 'memBwSchema'), 'must start with MB: and hold a single line');
  }
  c.optBool(rdt, 'enableCMT', at);
  c.optBool(rdt, 'enableMBM', at);
}

// Sysctls scoped to the IPC namespace (ipc_namespaces(7), runc's validator list).
const IPC_SYSCTLS: ReadonlySet<string> = new Set([
  'kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall',
  'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced',
]);

function checkSysctl(c: Checker, linux: JsonObject, path: string, namespaces: DeclaredNamespaces): void {
  const entries = c.optStringMap(linux, 'sysctl', path);
  const at = childPath(path, 'sysctl');
  for (const [rawKey] of entries ?? []) {
    const keyAt = childPath(at, rawKey);
    const key = rawKey.replaceAll('/', '.'); // sysctl(8) accepts either separator
    const needs = sysctlNamespace(key);
    if (needs === undefined) {
      c.fail(keyAt, 'is not scoped to a namespace the container can own; it would change the host');
    } else if (!namespaces.has(needs)) {
      c.fail(keyAt, `requires a ${needs} namespace in linux.namespaces`);
    } else if (key === 'kernel.hostname') {
      c.fail(keyAt, 'conflicts with the hostname field; set hostname instead');
    }
  }
}

function sysctlNamespace(key: string): NamespaceType | undefined {
  if (IPC_SYSCTLS.has(key) || key.startsWith('fs.mqueue.')) return 'ipc';
  if (key.startsWith('net.')) return 'network';
  if (key === 'kernel.hostname' || key === 'kernel.domainname') return 'uts';
  return undefined;
}
