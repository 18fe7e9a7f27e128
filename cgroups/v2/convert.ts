/**
 * Conversions from runtime-spec's cgroup v1 units to cgroup v2 (the spec was written for v1).
 * Pure functions; each names its source.
 */

import { invalidResource } from '../cgroup-plan.js';

/**
 * cpu.shares (v1, 2..262144, default 1024) to cpu.weight (v2, 1..10000, default 100).
 *
 * The mapping runc >= 1.3.2 (opencontainers/cgroups v0.0.3, PR #20, utils.go
 * ConvertCPUSharesToCgroupV2Value) and crun >= 1.23 (PR #1767) use since 2025. With
 * L = log2(shares), weight = ceil(10^((L² + 125·L) / 612 − 7/34)): a quadratic in log space
 * through (2 → 1), (1024 → 100) and (262144 → 10000), so the defaults map onto each other.
 * The former linear formula 1 + (shares − 2)·9999/262142 gave 1024 → 39, under-weighting
 * every container against host services (kubernetes#131216, runc#4772).
 * 0 means unset and stays 0; values outside the v1 range clamp to the v2 range.
 */
export function cpuSharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const l = Math.log2(shares);
  const exponent = (l * l + 125 * l) / 612 - 7 / 34;
  return Math.ceil(10 ** exponent);
}

/**
 * blkio.weight (10..1000) to io.weight (1..10000): linear, as runc's
 * ConvertBlkIOToIOWeightValue, 1 + (weight − 10)·9999/990, rounded down. 0 means unset.
 */
export function blkioWeightToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/**
 * runtime-spec `memory.swap` is memory+swap (v1 memsw); v2's memory.swap.max is swap alone,
 * so it is `swap − limit` (runc ConvertMemorySwapToCgroupV2Value):
 * - limit −1 with swap unset → −1 (unlimited both, like v1);
 * - swap −1 or 0 (unset) stay as they are; with unlimited memory swap is taken as is;
 * - otherwise limit must be set and no larger than swap.
 * Returns −1 for `max`, 0 for "unset or none".
 */
export function memorySwapToV2(swap: number, limit: number): number {
  if (limit === -1 && swap === 0) return -1;
  if (swap === -1 || swap === 0) return swap;
  if (limit === -1) return swap;
  if (limit === 0) throw invalidResource(`invalid memory+swap limit ${swap}: no memory limit set`, 'set memory.limit with memory.swap');
  if (limit < 0) throw invalidResource(`invalid memory limit ${limit}`);
  if (swap < limit) throw invalidResource(`invalid memory+swap limit ${swap}: below the memory limit ${limit}`, 'runtime-spec `swap` is memory plus swap');
  return swap - limit;
}
