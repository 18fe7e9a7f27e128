import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KapselError } from '../common/errors.js';
import { CAPABILITIES } from '../sys/constants.js';
import { defaultSpec } from '../oci/default-spec.js';
import type { Process } from '../oci/runtime-spec.js';
import { capabilityMask, planProcess } from './process-plan.js';

const LAST_CAP = 40; // CAP_CHECKPOINT_RESTORE, Linux 5.9+
const RLIM_INFINITY = 0xffffffffffffffffn;

function bit(name: string): bigint {
  const n = CAPABILITIES.indexOf(name);
  assert.ok(n >= 0, name);
  return 1n << BigInt(n);
}

function proc(edit: (p: Process) => void = () => undefined): Process {
  const p = defaultSpec().process;
  assert.ok(p !== undefined);
  edit(p);
  return p;
}

function rejects(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KapselError);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

describe('capability masks', () => {
  it('uses the kernel bit numbers (include/uapi/linux/capability.h)', () => {
    assert.equal(CAPABILITIES.indexOf('CAP_CHOWN'), 0);
    assert.equal(CAPABILITIES.indexOf('CAP_KILL'), 5);
    assert.equal(CAPABILITIES.indexOf('CAP_NET_BIND_SERVICE'), 10);
    assert.equal(CAPABILITIES.indexOf('CAP_SYS_ADMIN'), 21);
    assert.equal(CAPABILITIES.indexOf('CAP_AUDIT_WRITE'), 29);
    assert.equal(CAPABILITIES.indexOf('CAP_CHECKPOINT_RESTORE'), 40);
    assert.equal(capabilityMask(['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_AUDIT_WRITE'], LAST_CAP), 0x20000420n);
  });

  it('sets one bit per capability for each set of the default spec; inheritable stays empty', () => {
    const { caps } = planProcess(proc(), { lastCap: LAST_CAP, setgroupsAllowed: true });
    const expected = bit('CAP_AUDIT_WRITE') | bit('CAP_KILL') | bit('CAP_NET_BIND_SERVICE');
    assert.deepEqual(caps, { bounding: expected, effective: expected, permitted: expected, inheritable: 0n, ambient: expected });
  });

  it('gives an empty mask for a missing or empty list, and ignores duplicates', () => {
    assert.equal(capabilityMask(undefined, LAST_CAP), 0n);
    assert.equal(capabilityMask([], LAST_CAP), 0n);
    assert.equal(capabilityMask(['CAP_KILL', 'CAP_KILL'], LAST_CAP), bit('CAP_KILL'));
  });

  it('covers every known capability up to lastCap', () => {
    assert.equal(capabilityMask([...CAPABILITIES], LAST_CAP), (1n << 41n) - 1n);
  });

  it('ignores capabilities above the kernel\'s last_cap', () => {
    const names = ['CAP_SYS_ADMIN', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE'];
    assert.equal(capabilityMask(names, 38), bit('CAP_SYS_ADMIN') | bit('CAP_PERFMON'));
    assert.equal(capabilityMask(names, 37), bit('CAP_SYS_ADMIN'));
    const { caps } = planProcess(proc((p) => { p.capabilities = { bounding: names }; }), { lastCap: 37, setgroupsAllowed: true });
    assert.equal(caps.bounding, bit('CAP_SYS_ADMIN'));
  });

  it('rejects an unknown capability name', () => {
    rejects(() => capabilityMask(['CAP_KILL', 'CAP_WINGS'], LAST_CAP), 'ERR_CONFIG_INVALID', /unknown capability `CAP_WINGS`/);
    rejects(() => capabilityMask(['kill'], LAST_CAP), 'ERR_CONFIG_INVALID', /unknown capability `kill`/);
    rejects(
      () => planProcess(proc((p) => { p.capabilities = { ambient: ['CAP_NOPE'] }; }), { lastCap: LAST_CAP, setgroupsAllowed: true }),
      'ERR_CONFIG_INVALID', /unknown capability `CAP_NOPE`/,
    );
  });
});

describe('rlimits', () => {
  const limits = (rlimits: Process['rlimits']) =>
    planProcess(proc((p) => { if (rlimits === undefined) delete p.rlimits; else p.rlimits = rlimits; }), { lastCap: LAST_CAP, setgroupsAllowed: true }).rlimits;

  it('maps the type to its resource number and keeps soft/hard as u64', () => {
    assert.deepEqual(limits([{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 }, { type: 'RLIMIT_CORE', soft: 0, hard: 0 }]), [
      { type: 'RLIMIT_NOFILE', resource: 7, soft: 1024n, hard: 4096n },
      { type: 'RLIMIT_CORE', resource: 4, soft: 0n, hard: 0n },
    ]);
    assert.deepEqual(limits([{ type: 'RLIMIT_CPU', soft: 1, hard: 1 }])[0]?.resource, 0);
    assert.deepEqual(limits([{ type: 'RLIMIT_RTTIME', soft: 1, hard: 1 }])[0]?.resource, 15);
  });

  it('turns RLIM_INFINITY (read by JSON.parse as 2^64) into all ones', () => {
    const parsed = JSON.parse('{"type":"RLIMIT_MEMLOCK","soft":18446744073709551615,"hard":18446744073709551615}') as { type: string; soft: number; hard: number };
    assert.deepEqual(limits([parsed]), [{ type: 'RLIMIT_MEMLOCK', resource: 8, soft: RLIM_INFINITY, hard: RLIM_INFINITY }]);
    assert.equal(limits([{ type: 'RLIMIT_AS', soft: Infinity, hard: 2 ** 64 }])[0]?.soft, RLIM_INFINITY);
  });

  it('keeps large finite values exact', () => {
    const r = limits([{ type: 'RLIMIT_FSIZE', soft: 2 ** 53, hard: 2 ** 63 }])[0];
    assert.equal(r?.soft, 9007199254740992n);
    assert.equal(r?.hard, 9223372036854775808n);
  });

  it('is empty without rlimits', () => {
    assert.deepEqual(limits(undefined), []);
  });

  it('rejects an unknown rlimit type', () => {
    rejects(() => limits([{ type: 'RLIMIT_WINGS', soft: 1, hard: 1 }]), 'ERR_CONFIG_INVALID', /unknown rlimit `RLIMIT_WINGS`/);
  });

  it('rejects rlimit types that are Object.prototype keys', () => {
    for (const type of ['constructor', 'toString', '__proto__']) {
      rejects(() => limits([{ type, soft: 1, hard: 1 }]), 'ERR_CONFIG_INVALID', /unknown rlimit/);
    }
  });
});

describe('planProcess', () => {
  it('copies args, env, cwd, ids, umask, no_new_privs, terminal and oom_score_adj', () => {
    const plan = planProcess(proc((p) => {
      p.args = ['/bin/sleep', '10'];
      p.cwd = '/work';
      p.user = { uid: 1000, gid: 1001, umask: 0o027 };
      p.oomScoreAdj = -500;
      p.terminal = false;
    }), { lastCap: LAST_CAP, setgroupsAllowed: true });
    assert.deepEqual(plan.args, ['/bin/sleep', '10']);
    assert.deepEqual(plan.env, defaultSpec().process?.env);
    assert.equal(plan.cwd, '/work');
    assert.equal(plan.uid, 1000);
    assert.equal(plan.gid, 1001);
    assert.equal(plan.umask, 0o027);
    assert.equal(plan.noNewPrivileges, true);
    assert.equal(plan.terminal, false);
    assert.equal(plan.oomScoreAdj, -500);
  });

  it('leaves umask and oom_score_adj undefined when unset', () => {
    const plan = planProcess(proc(), { lastCap: LAST_CAP, setgroupsAllowed: true });
    assert.equal(plan.umask, undefined);
    assert.equal(plan.oomScoreAdj, undefined);
    assert.equal(plan.terminal, true);
  });

  it('passes additionalGids when setgroups is allowed ([] clears the groups)', () => {
    const withGids = proc((p) => { p.user = { uid: 0, gid: 0, additionalGids: [5, 10] }; });
    assert.deepEqual(planProcess(withGids, { lastCap: LAST_CAP, setgroupsAllowed: true }).additionalGids, [5, 10]);
    assert.deepEqual(planProcess(proc(), { lastCap: LAST_CAP, setgroupsAllowed: true }).additionalGids, []);
  });

  it('leaves additionalGids undefined when setgroups is not allowed', () => {
    const withGids = proc((p) => { p.user = { uid: 0, gid: 0, additionalGids: [5, 10] }; });
    assert.equal(planProcess(withGids, { lastCap: LAST_CAP, setgroupsAllowed: false }).additionalGids, undefined);
    assert.equal(planProcess(proc(), { lastCap: LAST_CAP, setgroupsAllowed: false }).additionalGids, undefined);
  });

  it('rejects a process without args', () => {
    rejects(() => planProcess(proc((p) => { p.args = []; }), { lastCap: LAST_CAP, setgroupsAllowed: true }), 'ERR_CONFIG_INVALID', /process\.args must not be empty/);
    rejects(() => planProcess(proc((p) => { delete p.args; }), { lastCap: LAST_CAP, setgroupsAllowed: true }), 'ERR_CONFIG_INVALID', /process\.args/);
  });
});
