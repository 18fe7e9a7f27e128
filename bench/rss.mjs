#!/usr/bin/env node
/**
 * Peak resident memory of the runtime process during `create` of the busybox bundle, for each
 * runtime: GNU time's %M, the ru_maxrss that wait4(2) reports for the command in KiB. It covers
 * the runtime process and whatever children it waited for, not the container init it leaves
 * behind. Samples are interleaved like the lifecycle benchmark.
 *
 *   node bench/rss.mjs [--samples 10]
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from './lib/args.mjs';
import { openSession } from './lib/session.mjs';
import { fmt, markdownTable, ratio, summarize } from './lib/stats.mjs';

export const OPTIONS = {
  live: { default: false, describe: 'measure dist/ as it is, not a frozen copy (lib/snapshot.mjs)' },
  samples: { default: 10, describe: 'creates measured per runtime' },
  runtimes: { default: '', describe: 'comma-separated subset (kapsel,runc,crun)' },
};

export const GNU_TIME = '/usr/bin/time';

/** @param {Awaited<ReturnType<typeof openSession>>} session */
export async function measureRss(session, { samples }) {
  if (!existsSync(GNU_TIME)) throw new Error(`rss: ${GNU_TIME} (GNU time) is not installed: apt-get install -y time`);
  const placed = session.placed.filter((p) => p.runner);
  const kib = new Map(placed.map((p) => [p.def.name, []]));
  const failures = [];
  for (let i = 0; i < samples; i++) {
    const k = i % placed.length;
    for (const p of [...placed.slice(k), ...placed.slice(0, k)]) {
      session.throwIfAborted();
      const id = session.newId(p.def);
      const a = await p.runner.request({ op: 'rss', ...session.target(p, id) });
      if (a.ok) kib.get(p.def.name).push(a.kib);
      else {
        failures.push(`${p.def.name}: ${a.error}`);
        await p.runner.request({ op: 'cleanup', ...session.target(p, id), ids: [id] });
      }
    }
  }
  return { samples, rss: Object.fromEntries([...kib].map(([k, v]) => [k, summarize(v)])), failures };
}

export function renderRss(r) {
  const runc = r.rss['runc']?.median;
  const crun = r.rss['crun']?.median;
  const mib = (x) => fmt(x / 1024, 1);
  return [
    `Peak RSS of the \`create\` process (GNU time \`%M\`), ${r.samples} samples per runtime:`,
    '',
    markdownTable(
      ['runtime', 'median MiB', 'max MiB', 'min MiB', 'median vs runc', 'median vs crun'],
      Object.entries(r.rss).map(([name, s]) => [name, mib(s.median), mib(s.max), mib(s.min), ratio(s.median, runc), ratio(s.median, crun)]),
      ['l', 'r', 'r', 'r', 'r', 'r'],
    ),
    ...(r.failures.length ? ['', `**Failures:** ${r.failures.length}; first: \`${r.failures[0].slice(0, 300)}\``] : []),
  ].join('\n');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2), OPTIONS, 'node bench/rss.mjs [options]');
  const session = await openSession({ runtimes: opts.runtimes ? opts.runtimes.split(',') : [], snapshot: !opts.live });
  let result;
  try {
    result = await measureRss(session, opts);
  } finally {
    const c = await session.close();
    if (c.leftoverCgroups.length) process.stderr.write(`bench: cgroups left behind: ${c.leftoverCgroups.join(' ')}\n`);
  }
  process.stdout.write(`${renderRss(result)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    process.stderr.write(`rss: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
