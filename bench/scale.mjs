#!/usr/bin/env node
/**
 * Many containers, and exec, side by side for every runtime in one run (issue 9):
 *
 *   (c) N containers (default 100) created + started one after another, all left running: the
 *       time of each create + start, so the 1st and the Nth container compare (cost growth
 *       while N stay running); then each one deleted (`delete --force`).
 *   (d) the same N, K at a time (default 10): K creates at once, then K starts at once.
 *   (e) `exec` of /bin/true into a running container.
 *
 * The runtimes alternate container by container (group by group, exec by exec), the order
 * rotating, so load on the shared host spreads over all of them. The containers run
 * `sleep 1000000` from the session's second bundle.
 *
 *   node bench/scale.mjs [--count 100] [--parallel 10] [--exec-iterations 30] [--runtimes ...]
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from './lib/args.mjs';
import { openSession } from './lib/session.mjs';
import { fmt, markdownTable, ratio, summarize } from './lib/stats.mjs';

export const OPTIONS = {
  live: { default: false, describe: 'measure dist/ as it is, not a frozen copy (lib/snapshot.mjs)' },
  count: { default: 100, describe: 'containers per runtime for the sequential and parallel runs' },
  parallel: { default: 10, describe: 'containers started at once in the parallel run' },
  'exec-iterations': { default: 30, describe: 'measured exec calls per runtime' },
  warmup: { default: 3, describe: 'exec calls first and not counted' },
  runtimes: { default: '', describe: 'comma-separated subset (kapsel,kapseld,runc,crun)' },
};

function rotate(list, n) {
  const k = list.length === 0 ? 0 : n % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

async function ask(p, cmd) {
  const a = await p.runner.request(cmd);
  if (!a.ok) throw new Error(`${p.def.name}: ${cmd.op}: ${a.error}`);
  return a;
}

/** (c) and the deletes after it, or (d) with `parallel` > 1. */
async function startAll(session, placed, { count, parallel, progress }) {
  const per = new Map(placed.map((p) => [p.def.name, []]));
  const ids = new Map(placed.map((p) => [p.def.name, []]));
  const wall = new Map(placed.map((p) => [p.def.name, 0]));
  for (let g = 0; g * parallel < count; g++) {
    for (const p of rotate(placed, g)) {
      session.throwIfAborted();
      const group = Array.from({ length: Math.min(parallel, count - g * parallel) }, () => session.newId(p.def));
      ids.get(p.def.name).push(...group);
      const a = await ask(p, { op: 'startMany', ...session.target(p, ''), bundle: session.sleepBundle, ids: group, parallel });
      per.get(p.def.name).push(...a.perMs);
      wall.set(p.def.name, wall.get(p.def.name) + a.totalMs);
    }
    progress(Math.min(count, (g + 1) * parallel), count);
  }
  return { per, ids, wall };
}

async function deleteAll(session, placed, ids) {
  const total = new Map(placed.map((p) => [p.def.name, 0]));
  const n = Math.max(...placed.map((p) => ids.get(p.def.name).length));
  for (let i = 0; i < n; i++) {
    for (const p of rotate(placed, i)) {
      const id = ids.get(p.def.name)[i];
      if (id === undefined) continue;
      const a = await ask(p, { op: 'deleteMany', ...session.target(p, ''), ids: [id] });
      total.set(p.def.name, total.get(p.def.name) + a.totalMs);
    }
  }
  return total;
}

async function execs(session, placed, { iterations, warmup }) {
  const ms = new Map(placed.map((p) => [p.def.name, []]));
  const ids = new Map();
  for (const p of placed) {
    const id = session.newId(p.def);
    await ask(p, { op: 'startMany', ...session.target(p, ''), bundle: session.sleepBundle, ids: [id], parallel: 1 });
    ids.set(p.def.name, id);
  }
  try {
    for (let i = 0; i < warmup + iterations; i++) {
      for (const p of rotate(placed, i)) {
        session.throwIfAborted();
        const a = await ask(p, { op: 'execIn', ...session.target(p, ids.get(p.def.name)), argv: ['/bin/true'] });
        if (i >= warmup) ms.get(p.def.name).push(a.ms);
      }
    }
  } finally {
    for (const p of placed) await ask(p, { op: 'deleteMany', ...session.target(p, ''), ids: [ids.get(p.def.name)] });
  }
  return ms;
}

/** @param {Awaited<ReturnType<typeof openSession>>} session */
export async function measureScale(session, { count, parallel, execIterations, warmup, progress = () => undefined }) {
  const placed = session.placed.filter((p) => p.runner);
  const seq = await startAll(session, placed, { count, parallel: 1, progress: (i, n) => progress(`sequential ${i}/${n}`) });
  const del = await deleteAll(session, placed, seq.ids);
  const par = await startAll(session, placed, { count, parallel, progress: (i, n) => progress(`parallel ${i}/${n}`) });
  const parDel = await deleteAll(session, placed, par.ids);
  progress('exec');
  const ex = await execs(session, placed, { iterations: execIterations, warmup });
  const first = (xs, k) => summarize(xs.slice(0, k));
  const last = (xs, k) => summarize(xs.slice(-k));
  return {
    count,
    parallel,
    execIterations,
    warmup,
    sequential: Object.fromEntries(placed.map((p) => {
      const xs = seq.per.get(p.def.name);
      return [p.def.name, {
        totalMs: xs.reduce((a, b) => a + b, 0),
        each: summarize(xs),
        firstMs: xs[0],
        lastMs: xs[xs.length - 1],
        first10: first(xs, 10),
        last10: last(xs, 10),
        deleteTotalMs: del.get(p.def.name),
      }];
    })),
    parallelRun: Object.fromEntries(placed.map((p) => [p.def.name, {
      totalMs: par.wall.get(p.def.name),
      group: summarize(par.per.get(p.def.name)),
      deleteTotalMs: parDel.get(p.def.name),
    }])),
    exec: Object.fromEntries([...ex].map(([k, v]) => [k, summarize(v)])),
  };
}

export function renderScale(r) {
  const names = Object.keys(r.sequential);
  const base = (obj, name, pick) => ({ runc: obj.runc ? pick(obj.runc) : undefined, crun: obj.crun ? pick(obj.crun) : undefined, self: pick(obj[name]) });
  const rows = (obj, pick) => names.map((n) => {
    const b = base(obj, n, pick);
    return [fmt(b.self), ratio(b.self, b.runc), ratio(b.self, b.crun)];
  });
  const seqRows = rows(r.sequential, (s) => s.totalMs);
  const seq = names.map((n, i) => {
    const s = r.sequential[n];
    return [n, ...seqRows[i], fmt(s.each.median), fmt(s.first10.median), fmt(s.last10.median), fmt(s.firstMs), fmt(s.lastMs), fmt(s.deleteTotalMs)];
  });
  const parRows = rows(r.parallelRun, (s) => s.totalMs);
  const par = names.map((n, i) => [n, ...parRows[i], fmt(r.parallelRun[n].group.median), fmt(r.parallelRun[n].deleteTotalMs)]);
  const exRows = rows(r.exec, (s) => s.median);
  const ex = names.map((n, i) => [n, exRows[i][0], fmt(r.exec[n].p90), fmt(r.exec[n].min), exRows[i][1], exRows[i][2]]);
  return [
    `### (c) ${r.count} containers, one after another, all left running`,
    '',
    `create + start of each container (a \`sleep\` that keeps running), the runtimes alternating container by container. "1st" and "${r.count}th" are single samples; the medians of the first and last 10 show the growth with ${r.count} containers running.`,
    '',
    markdownTable(['runtime', `${r.count} × (create+start) ms`, 'vs runc', 'vs crun', 'each, median', 'first 10, median', 'last 10, median', '1st', `${r.count}th`, `${r.count} × delete --force ms`], seq, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']),
    '',
    `### (d) the same ${r.count}, ${r.parallel} at a time`,
    '',
    `${r.parallel} \`create\` at once, then ${r.parallel} \`start\` at once; wall time summed over the groups.`,
    '',
    markdownTable(['runtime', `${r.count} containers, ms`, 'vs runc', 'vs crun', `one group of ${r.parallel}, median ms`, `${r.count} × delete --force ms`], par, ['l', 'r', 'r', 'r', 'r', 'r']),
    '',
    '### (e) `exec` of `/bin/true` into a running container',
    '',
    `${r.execIterations} measured calls after ${r.warmup} warm-up, alternating.`,
    '',
    markdownTable(['runtime', 'median ms', 'p90 ms', 'min ms', 'vs runc', 'vs crun'], ex, ['l', 'r', 'r', 'r', 'r', 'r']),
  ].join('\n');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2), OPTIONS, 'node bench/scale.mjs [options]');
  const session = await openSession({ runtimes: opts.runtimes ? opts.runtimes.split(',') : [], snapshot: !opts.live });
  let result;
  try {
    result = await measureScale(session, {
      count: opts.count,
      parallel: opts.parallel,
      execIterations: opts['exec-iterations'],
      warmup: opts.warmup,
      progress: (what) => process.stderr.write(`\rscale ${what}        `),
    });
    process.stderr.write('\n');
  } finally {
    const c = await session.close();
    if (c.leftoverCgroups.length) process.stderr.write(`bench: cgroups left behind: ${c.leftoverCgroups.join(' ')}\n`);
  }
  process.stdout.write(`${renderScale(result)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    process.stderr.write(`scale: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
