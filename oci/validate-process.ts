/**
 * Validation of `process` (config.md "Process", "POSIX process", "Linux Process", "User").
 * Rules beyond JSON types, each with its source:
 * - args: at least one entry on non-Windows platforms (config.md); cwd absolute (config.md).
 * - rlimits: type known to getrlimit(2), duplicates are an error (config.md), soft <= hard
 *   (setrlimit(2) fails with EINVAL otherwise).
 * - capabilities: names from capabilities(7). The spec only asks for a warning about names that
 *   cannot be granted; like runc, kapsel rejects names it does not know at all.
 * - oomScoreAdj within [-1000, 1000] (proc(5) oom_score_adj); umask within 0..0o777.
 * - scheduler priority ranges as sched_setattr(2) checks them (EINVAL otherwise).
 */

import { CAPABILITIES, RLIMITS } from '../sys/constants.js';
import { parseCpuList } from './cpu-list.js';
import {
  CAPABILITY_SETS, IO_PRIORITY_CLASSES, SCHEDULER_FLAGS, SCHEDULER_POLICIES,
} from './runtime-spec.js';
import { childPath, indexPath, type Checker, type JsonObject } from './validate-context.js';

const OOM_SCORE_ADJ_MIN = -1000; // include/uapi/linux/oom.h OOM_SCORE_ADJ_MIN
const OOM_SCORE_ADJ_MAX = 1000;
const UMASK_MAX = 0o777;
const RT_PRIORITY_MIN = 1; // sched(7): SCHED_FIFO and SCHED_RR static priority 1..99
const RT_PRIORITY_MAX = 99;
const IOPRIO_LEVEL_MAX = 7; // ioprio_set(2): levels 0 (highest) to 7

export function checkProcess(c: Checker, spec: JsonObject, path: string): void {
  const process = c.optObject(spec, 'process', path);
  if (process === undefined) return;
  const at = childPath(path, 'process');

  const terminal = c.optBool(process, 'terminal', at);
  const consoleSize = c.optObject(process, 'consoleSize', at);
  if (consoleSize !== undefined) {
    const sizeAt = childPath(at, 'consoleSize');
    c.reqInt(consoleSize, 'height', sizeAt, 'uint32');
    c.reqInt(consoleSize, 'width', sizeAt, 'uint32');
    if (terminal !== true) c.warn(sizeAt, 'is ignored because process.terminal is not true');
  }

  checkUser(c, process, at);
  checkArgs(c, process, at);
  c.optString(process, 'commandLine', at);
  checkEnv(c, process, 'env', at);
  c.absPath(process, 'cwd', at, true);
  checkCapabilities(c, process, at);
  checkRlimits(c, process, at);
  c.optBool(process, 'noNewPrivileges', at);
  c.optString(process, 'apparmorProfile', at);
  c.optString(process, 'selinuxLabel', at);

  const oom = c.optInt(process, 'oomScoreAdj', at, 'int32');
  if (oom !== undefined && (oom < OOM_SCORE_ADJ_MIN || oom > OOM_SCORE_ADJ_MAX)) {
    c.fail(childPath(at, 'oomScoreAdj'), `must be from ${OOM_SCORE_ADJ_MIN} to ${OOM_SCORE_ADJ_MAX} (got ${oom})`);
  }

  checkScheduler(c, process, at);
  checkIoPriority(c, process, at);
  checkCpuAffinity(c, process, at);
}

function checkUser(c: Checker, process: JsonObject, path: string): void {
  const user = c.reqObject(process, 'user', path);
  if (user === undefined) return;
  const at = childPath(path, 'user');
  c.reqInt(user, 'uid', at, 'uint32');
  c.reqInt(user, 'gid', at, 'uint32');
  const umask = c.optInt(user, 'umask', at, 'uint32');
  if (umask !== undefined && umask > UMASK_MAX) {
    c.fail(childPath(at, 'umask'), `must be from 0 to 0o777 (got 0o${umask.toString(8)})`);
  }
  const gids = c.optArray(user, 'additionalGids', at);
  gids?.forEach((gid, i) => c.int(gid, indexPath(childPath(at, 'additionalGids'), i), 'uint32'));
  c.optString(user, 'username', at);
}

function checkArgs(c: Checker, process: JsonObject, path: string): void {
  const at = childPath(path, 'args');
  const args = process['args'];
  if (!Array.isArray(args) || args.length === 0 || !args.every((arg) => typeof arg === 'string')) {
    c.fail(at, 'must be a non-empty array of strings');
    return;
  }
  if (args[0] === '') c.fail(indexPath(at, 0), 'must name the program to run (got an empty string)');
}

/** Entries must be NAME=VALUE with a non-empty NAME, as execve(2) environments are read. */
export function checkEnv(c: Checker, obj: JsonObject, key: string, path: string): void {
  const env = c.optStringArray(obj, key, path);
  const at = childPath(path, key);
  for (const [i, entry] of env ?? []) {
    const eq = entry.indexOf('=');
    if (eq <= 0) c.fail(indexPath(at, i), `must have the form NAME=VALUE (got ${JSON.stringify(entry)})`);
    else if (entry.includes('\0')) c.fail(indexPath(at, i), 'must not contain a NUL byte');
  }
}

function checkCapabilities(c: Checker, process: JsonObject, path: string): void {
  const caps = c.optObject(process, 'capabilities', path);
  if (caps === undefined) return;
  const at = childPath(path, 'capabilities');
  for (const set of CAPABILITY_SETS) {
    const names = c.optStringArray(caps, set, at);
    for (const [i, name] of names ?? []) {
      if (!CAPABILITIES.includes(name)) {
        c.fail(indexPath(childPath(at, set), i), `unknown capability ${JSON.stringify(name)}`);
      }
    }
  }
}

function checkRlimits(c: Checker, process: JsonObject, path: string): void {
  const seen = new Map<string, string>();
  c.eachObject(process, 'rlimits', path, (rlimit, at) => {
    const type = c.reqString(rlimit, 'type', at);
    const hard = c.reqInt(rlimit, 'hard', at, 'uint64');
    const soft = c.reqInt(rlimit, 'soft', at, 'uint64');
    if (type !== undefined) {
      if (!Object.hasOwn(RLIMITS, type)) {
        c.fail(childPath(at, 'type'), `unknown rlimit ${JSON.stringify(type)}`);
      }
      const first = seen.get(type);
      if (first !== undefined) c.fail(childPath(at, 'type'), `duplicates ${type} already set at ${first}`);
      else seen.set(type, at);
    }
    if (hard !== undefined && soft !== undefined && soft > hard) {
      c.fail(childPath(at, 'soft'), `must not exceed hard (${soft} > ${hard})`);
    }
  });
}

function checkScheduler(c: Checker, process: JsonObject, path: string): void {
  const sched = c.optObject(process, 'scheduler', path);
  if (sched === undefined) return;
  const at = childPath(path, 'scheduler');
  const policy = c.optEnum(sched, 'policy', at, SCHEDULER_POLICIES, true);
  c.optInt(sched, 'nice', at, 'int32');
  const priority = c.optInt(sched, 'priority', at, 'int32') ?? 0;
  const flags = c.optStringArray(sched, 'flags', at);
  for (const [i, flag] of flags ?? []) c.enumValue(flag, indexPath(childPath(at, 'flags'), i), SCHEDULER_FLAGS);
  const runtime = c.optInt(sched, 'runtime', at, 'uint64');
  const deadline = c.optInt(sched, 'deadline', at, 'uint64');
  const period = c.optInt(sched, 'period', at, 'uint64');

  const realtime = policy === 'SCHED_FIFO' || policy === 'SCHED_RR';
  if (realtime && (priority < RT_PRIORITY_MIN || priority > RT_PRIORITY_MAX)) {
    c.fail(childPath(at, 'priority'), `must be from ${RT_PRIORITY_MIN} to ${RT_PRIORITY_MAX} for ${policy} (got ${priority})`);
  } else if (policy !== undefined && !realtime && policy !== 'SCHED_ISO' && priority !== 0) {
    c.fail(childPath(at, 'priority'), `must be 0 for ${policy} (got ${priority})`);
  }
  if (policy === 'SCHED_DEADLINE') {
    // sched(7): runtime <= deadline <= period, where an unset period means the deadline.
    if (runtime !== undefined && deadline !== undefined && runtime > deadline) {
      c.fail(childPath(at, 'runtime'), `must not exceed deadline (${runtime} > ${deadline})`);
    }
    if (deadline !== undefined && period !== undefined && period !== 0 && deadline > period) {
      c.fail(childPath(at, 'deadline'), `must not exceed period (${deadline} > ${period})`);
    }
  }
}

function checkIoPriority(c: Checker, process: JsonObject, path: string): void {
  const io = c.optObject(process, 'ioPriority', path);
  if (io === undefined) return;
  const at = childPath(path, 'ioPriority');
  c.optEnum(io, 'class', at, IO_PRIORITY_CLASSES, true);
  const level = c.reqInt(io, 'priority', at, 'int32');
  if (level !== undefined && (level < 0 || level > IOPRIO_LEVEL_MAX)) {
    c.fail(childPath(at, 'priority'), `must be from 0 to ${IOPRIO_LEVEL_MAX} (got ${level})`);
  }
}

function checkCpuAffinity(c: Checker, process: JsonObject, path: string): void {
  const affinity = c.optObject(process, 'execCPUAffinity', path);
  if (affinity === undefined) return;
  const at = childPath(path, 'execCPUAffinity');
  for (const key of ['initial', 'final']) {
    const list = c.optString(affinity, key, at);
    if (list !== undefined && list !== '' && parseCpuList(list) === undefined) {
      c.fail(childPath(at, key), `must be a CPU list such as 0-3,7 (got ${JSON.stringify(list)})`);
    }
  }
}
