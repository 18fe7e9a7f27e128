/**
 * The kernel's CPU/memory-node list syntax (`0-3,8,10-11`), used by cpuset.cpus, cpuset.mems
 * and process.execCPUAffinity. See "List format" in cpuset(7).
 */

const MAX_CPU_INDEX = 8191; // NR_CPUS upper bound on x86_64 kernels (CONFIG_NR_CPUS_RANGE_END)

/** Parses a list into sorted unique indexes; undefined when the text is not a valid list. */
export function parseCpuList(text: string): number[] | undefined {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const match = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part);
    if (match === null) return undefined;
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first || last > MAX_CPU_INDEX) return undefined;
    for (let i = first; i <= last; i++) out.add(i);
  }
  return [...out].sort((a, b) => a - b);
}
