/**
 * Validation of `linux.seccomp` (config-linux.md "Seccomp"). Rules beyond JSON types:
 * - actions, operators, architectures and flags come from the spec's lists (libseccomp 2.5).
 * - errnoRet/defaultErrnoRet only with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, the actions that carry
 *   a value; it must fit SECCOMP_RET_DATA (16 bits, seccomp(2)).
 * - listenerMetadata only with listenerPath; SCMP_ACT_NOTIFY needs listenerPath, which must fit
 *   sockaddr_un.sun_path (unix(7)).
 * - names has at least one non-empty entry; args index is 0..5 (a syscall has six arguments).
 */

import {
  SECCOMP_ACTIONS, SECCOMP_ARCHES, SECCOMP_FLAGS, SECCOMP_OPERATORS, type SeccompAction,
} from './runtime-spec.js';
import { childPath, indexPath, type Checker, type JsonObject } from './validate-context.js';

const SYSCALL_ARG_COUNT = 6;
const SUN_PATH_MAX = 107; // sizeof(sun_path) 108 minus the terminating NUL
const ACTIONS_WITH_DATA: readonly SeccompAction[] = ['SCMP_ACT_ERRNO', 'SCMP_ACT_TRACE'];

export function checkSeccomp(c: Checker, linux: JsonObject, path: string): void {
  const seccomp = c.optObject(linux, 'seccomp', path);
  if (seccomp === undefined) return;
  const at = childPath(path, 'seccomp');

  const defaultAction = c.optEnum(seccomp, 'defaultAction', at, SECCOMP_ACTIONS, true);
  checkErrnoRet(c, seccomp, 'defaultErrnoRet', at, defaultAction, 'defaultAction');
  for (const [key, allowed] of [['architectures', SECCOMP_ARCHES], ['flags', SECCOMP_FLAGS]] as const) {
    for (const [i, value] of c.optStringArray(seccomp, key, at) ?? []) {
      c.enumValue<string>(value, indexPath(childPath(at, key), i), allowed);
    }
  }
  const listenerPath = c.optString(seccomp, 'listenerPath', at);
  if (listenerPath !== undefined && Buffer.byteLength(listenerPath) > SUN_PATH_MAX) {
    c.fail(childPath(at, 'listenerPath'), `is longer than ${SUN_PATH_MAX} bytes, the limit for a unix socket path`);
  }
  c.optString(seccomp, 'listenerMetadata', at);
  if (seccomp['listenerMetadata'] !== undefined && seccomp['listenerPath'] === undefined) {
    c.fail(childPath(at, 'listenerMetadata'), 'requires listenerPath');
  }

  const notifyAt: string[] = defaultAction === 'SCMP_ACT_NOTIFY' ? [childPath(at, 'defaultAction')] : [];
  c.eachObject(seccomp, 'syscalls', at, (rule, ruleAt) => {
    if (checkSyscallRule(c, rule, ruleAt) === 'SCMP_ACT_NOTIFY') notifyAt.push(childPath(ruleAt, 'action'));
  });
  if (notifyAt.length > 0 && (listenerPath === undefined || listenerPath === '')) {
    c.fail(childPath(at, 'listenerPath'), `is required because ${notifyAt.join(', ')} uses SCMP_ACT_NOTIFY`);
  }
}

function checkSyscallRule(c: Checker, rule: JsonObject, path: string): SeccompAction | undefined {
  const names = rule['names'];
  const namesAt = childPath(path, 'names');
  if (!Array.isArray(names) || names.length === 0) {
    c.fail(namesAt, 'must be a non-empty array of syscall names');
  } else {
    names.forEach((name, i) => {
      if (typeof name !== 'string' || name === '') c.fail(indexPath(namesAt, i), 'must be a non-empty string');
    });
  }
  const action = c.optEnum(rule, 'action', path, SECCOMP_ACTIONS, true);
  checkErrnoRet(c, rule, 'errnoRet', path, action, 'action');
  c.eachObject(rule, 'args', path, (arg, argAt) => {
    const index = c.reqInt(arg, 'index', argAt, 'uint32');
    if (index !== undefined && index >= SYSCALL_ARG_COUNT) {
      c.fail(childPath(argAt, 'index'), `must be from 0 to ${SYSCALL_ARG_COUNT - 1} (got ${index})`);
    }
    c.reqInt(arg, 'value', argAt, 'uint64');
    c.optInt(arg, 'valueTwo', argAt, 'uint64');
    c.optEnum(arg, 'op', argAt, SECCOMP_OPERATORS, true);
  });
  return action;
}

function checkErrnoRet(
  c: Checker, obj: JsonObject, key: string, path: string,
  action: SeccompAction | undefined, actionKey: string,
): void {
  const value = c.optInt(obj, key, path, 'uint16');
  if (value === undefined || action === undefined) return;
  if (!ACTIONS_WITH_DATA.includes(action)) {
    c.fail(childPath(path, key), `is only allowed when ${actionKey} is SCMP_ACT_ERRNO or SCMP_ACT_TRACE (got ${action})`);
  }
}
