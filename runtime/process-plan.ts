/**
 * What the container process gets (runtime-spec config.md "Process", capabilities(7),
 * setrlimit(2)). Pure: turns spec.process into the numbers the native stage applies and the
 * parent sets from outside (rlimits through prlimit, oom_score_adj through /proc).
 */
import { CAPABILITIES, RLIMITS } from '../sys/constants.js';
import type { Process } from '../oci/runtime-spec.js';
import { KapselError } from '../common/errors.js';

export interface CapabilityMasks {
  readonly bounding: bigint;
  readonly effective: bigint;
  readonly permitted: bigint;
  readonly inheritable: bigint;
  readonly ambient: bigint;
}

export interface RlimitStep {
  readonly type: string;
  readonly resource: number;
  readonly soft: bigint;
  readonly hard: bigint;
}

export interface ProcessPlan {
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
  readonly uid: number;
  readonly gid: number;
  /** undefined: leave the supplementary groups alone (setgroups is denied in the user ns). */
  readonly additionalGids: readonly number[] | undefined;
  readonly umask: number | undefined;
  readonly caps: CapabilityMasks;
  readonly noNewPrivileges: boolean;
  readonly rlimits: readonly RlimitStep[];
  readonly oomScoreAdj: number | undefined;
  readonly terminal: boolean;
}

export function capabilityMask(names: readonly string[] | undefined, lastCap: number): bigint {
  let mask = 0n;
  for (const name of names ?? []) {
    const bit = CAPABILITIES.indexOf(name);
    if (bit < 0) throw new KapselError('ERR_CONFIG_INVALID', `unknown capability \`${name}\``);
    // A capability the running kernel does not know is ignored, as runc does with a warning.
    if (bit <= lastCap) mask |= 1n << BigInt(bit);
  }
  return mask;
}

/** RLIM_INFINITY is all ones; JSON numbers above 2^53 arrive rounded, so clamp to u64. */
function rlimitValue(v: number): bigint {
  if (!Number.isFinite(v) || v >= 2 ** 64 - 1) return 0xffffffffffffffffn;
  return BigInt.asUintN(64, BigInt(Math.trunc(v)));
}

export function planProcess(process: Process, opts: { lastCap: number; setgroupsAllowed: boolean }): ProcessPlan {
  const args = process.args ?? [];
  if (args.length === 0) throw new KapselError('ERR_CONFIG_INVALID', 'process.args must not be empty');
  const caps = process.capabilities ?? {};
  const rlimits = (process.rlimits ?? []).map((r) => {
    const resource = Object.hasOwn(RLIMITS, r.type) ? RLIMITS[r.type] : undefined;
    if (resource === undefined) throw new KapselError('ERR_CONFIG_INVALID', `unknown rlimit \`${r.type}\``);
    return { type: r.type, resource, soft: rlimitValue(r.soft), hard: rlimitValue(r.hard) };
  });
  return {
    args,
    env: process.env ?? [],
    cwd: process.cwd,
    uid: process.user.uid,
    gid: process.user.gid,
    additionalGids: opts.setgroupsAllowed ? (process.user.additionalGids ?? []) : undefined,
    umask: process.user.umask,
    caps: {
      bounding: capabilityMask(caps.bounding, opts.lastCap),
      effective: capabilityMask(caps.effective, opts.lastCap),
      permitted: capabilityMask(caps.permitted, opts.lastCap),
      inheritable: capabilityMask(caps.inheritable, opts.lastCap),
      ambient: capabilityMask(caps.ambient, opts.lastCap),
    },
    noNewPrivileges: process.noNewPrivileges === true,
    rlimits,
    oomScoreAdj: process.oomScoreAdj,
    terminal: process.terminal === true,
  };
}
