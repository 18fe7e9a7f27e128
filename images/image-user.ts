/**
 * Resolving an image's `Config.User` (`name`, `uid`, `uid:gid`, `name:group`, `uid:group`, ...)
 * to ids through the image's own passwd and group files (image-spec conversion.md
 * "Config.User"), with the rules of moby/sys/user GetExecUser, which docker and runc use:
 *
 * - a numeric user is a uid even when no passwd line has it (gid 0, home `/`);
 * - a name must be in passwd (else an error); its gid and home come from there;
 * - an explicit group (name or gid) replaces the primary gid; a name must be in group;
 * - no user means uid 0, looked up like a name would be.
 *
 * Supplementary groups (the groups listing the user as a member) are added only when the user
 * was given by name (or not at all) and no group was given: conversion.md says a converter
 * SHOULD NOT set additionalGids for a numeric user or an explicit group. Pure.
 */

import { KapselError } from '../common/errors.js';
import type { GroupEntry, PasswdEntry } from './passwd.js';

/** moby/sys/user: ids are int32 >= 0. */
const MAX_ID = 2 ** 31 - 1;
const NUMERIC = /^[0-9]+$/;

export interface ResolvedUser {
  readonly uid: number;
  readonly gid: number;
  readonly additionalGids: readonly number[];
  /** From the passwd line, else `/`: the default for HOME. */
  readonly home: string;
}

function userError(spec: string, reason: string): KapselError {
  return new KapselError('ERR_IMAGE_USER', `user \`${spec}\`: ${reason}`, {
    hint: 'use a numeric uid[:gid], or a user the image\'s /etc/passwd (and group the /etc/group) defines',
  });
}

function numericId(spec: string, text: string, what: string): number {
  const id = Number(text);
  if (!Number.isSafeInteger(id) || id > MAX_ID) throw userError(spec, `${what} ${text} is out of range (0 to ${MAX_ID})`);
  return id;
}

/**
 * `spec` is Config.User or an override; passwd/group are undefined when the image lacks the
 * file (then only numeric ids work).
 */
export function resolveUser(spec: string | undefined, passwd: readonly PasswdEntry[] | undefined, group: readonly GroupEntry[] | undefined): ResolvedUser {
  const text = spec ?? '';
  const colon = text.indexOf(':');
  const userPart = colon < 0 ? text : text.slice(0, colon);
  const groupPart = colon < 0 ? '' : text.slice(colon + 1);
  if (colon >= 0 && (userPart === '' || groupPart === '')) throw userError(text, 'must be user, user:group, uid or uid:gid');

  let uid = 0;
  let gid = 0;
  let home = '/';
  let matchedName: string | undefined;
  const entry = userPart === ''
    ? passwd?.find((p) => p.uid === 0)
    : NUMERIC.test(userPart)
      ? passwd?.find((p) => p.uid === numericId(text, userPart, 'uid'))
      : passwd?.find((p) => p.name === userPart);
  if (entry !== undefined) {
    ({ uid, gid, home } = entry);
    matchedName = entry.name;
  } else if (userPart !== '') {
    if (!NUMERIC.test(userPart)) {
      throw userError(text, passwd === undefined ? 'the image has no /etc/passwd to look the name up in' : `no user \`${userPart}\` in the image's /etc/passwd`);
    }
    uid = numericId(text, userPart, 'uid');
  }

  if (groupPart !== '') {
    const byGid = NUMERIC.test(groupPart);
    const g = byGid ? group?.find((e) => e.gid === numericId(text, groupPart, 'gid')) : group?.find((e) => e.name === groupPart);
    if (g !== undefined) gid = g.gid;
    else if (byGid) gid = numericId(text, groupPart, 'gid');
    else throw userError(text, group === undefined ? 'the image has no /etc/group to look the group up in' : `no group \`${groupPart}\` in the image's /etc/group`);
    return { uid, gid, additionalGids: [], home };
  }
  const byName = userPart === '' || !NUMERIC.test(userPart);
  const additionalGids = byName && matchedName !== undefined
    ? [...new Set((group ?? []).filter((g) => g.members.includes(matchedName as string)).map((g) => g.gid))]
    : [];
  return { uid, gid, additionalGids, home };
}
