#!/usr/bin/env node
/**
 * OCI lifecycle cost of kapsel-runtime, runc and crun, side by side in one run.
 *
 *   (a) lifecycle: `create` + `start` + wait for the init to exit + `delete`, of /bin/true
 *   (b) `run` of /bin/true (create, start, wait and delete inside one runtime process)
 *
 * Each iteration measures every runtime once per scenario, the order rotating with the
 * iteration (A B C, B C A, C A B, ...) so drift and cache effects spread evenly; warm-up
 * iterations run first and are dropped. For (a) the runner is a child subreaper, so the exited
 * init is its child: "wait" polls waitpid(WNOHANG) every 0.1 ms (see lib/proc.mjs).
 *
 *   node bench/oci-lifecycle.mjs [--iterations 30] [--warmup 3] [--runtimes kapsel,runc,crun]
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from './lib/args.mjs';
import { inCgroupV1OnlyNs } from './lib/runner-client.mjs';
import { describePlacement, openSession } from './lib/session.mjs';
import { fmt, markdownTable, ratio, summarize } from './lib/stats.mjs';

export const OPTIONS = {
  live: { default: false, describe: 'measure dist/ as it is, not a frozen copy (lib/snapshot.mjs)' },
  iterations: { default: 30, describe: 'measured iterations per runtime and scenario' },
  warmup: { default: 3, describe: 'iterations run first and not counted' },
  runtimes: { default: '', describe: 'comma-separated subset (kapsel,runc,crun)' },
};

const STEPS = ['createMs', 'startMs', 'waitMs', 'deleteMs'];

function rotate(list, n) {
  const k = list.length === 0 ? 0 : n % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

/** @param {Awaited<ReturnType<typeof openSession>>} session */
export async function measureLifecycle(session, { iterations, warmup, progress = () => undefined }) {
  const placed = session.placed.filter((p) => p.runner);
  const lifecycle = new Map(placed.map((p) => [p.def.name, { totalMs: [], createMs: [], startMs: [], waitMs: [], deleteMs: [] }]));
  const run = new Map(placed.map((p) => [p.def.name, []]));
  const failures = new Map(placed.map((p) => [p.def.name, []]));
  const spawnBaseline = new Map();
  const nsWrapper = [];
  const host = await session.runner('host');

  const sample = async (p, op, sink) => {
    session.throwIfAborted();
    const id = session.newId(p.def);
    const a = await p.runner.request({ op, ...session.target(p, id) });
    if (!a.ok) {
      failures.get(p.def.name).push(`${op}: ${a.error}`);
      await p.runner.request({ op: 'cleanup', ...session.target(p, id), ids: [id] });
      return;
    }
    sink(a);
  };

  for (let i = 0; i < warmup + iterations; i++) {
    const counted = i >= warmup;
    const order = rotate(placed, i);
    for (const p of order) {
      await sample(p, 'lifecycle', (a) => {
        if (!counted) return;
        const s = lifecycle.get(p.def.name);
        s.totalMs.push(a.totalMs);
        for (const step of STEPS) s[step].push(a[step]);
      });
    }
    for (const p of order) {
      await sample(p, 'run', (a) => counted && run.get(p.def.name).push(a.ms));
    }
    // What the measuring harness itself costs: a spawn of /bin/true on each runner, and what
    // a per-call `unshare -m` + remount wrapper (the alternative to crun's runner) would add.
    session.throwIfAborted();
    for (const r of new Set(placed.map((p) => p.runner))) {
      const a = await r.request({ op: 'exec', argv: ['/bin/true'], errPath: session.errPath });
      if (a.ok && counted) {
        if (!spawnBaseline.has(r.where)) spawnBaseline.set(r.where, []);
        spawnBaseline.get(r.where).push(a.ms);
      }
    }
    const w = await host.request({ op: 'exec', argv: inCgroupV1OnlyNs(['/bin/true']), errPath: session.errPath });
    if (w.ok && counted) nsWrapper.push(w.ms);
    progress(i + 1, warmup + iterations);
  }

  return {
    iterations,
    warmup,
    placement: placed.map(describePlacement).concat(session.placed.filter((p) => !p.runner).map(describePlacement)),
    runnerStartupMs: Object.fromEntries([...new Set(placed.map((p) => p.runner))].map((r) => [r.where, r.startupMs])),
    spawnMode: host.info.spawnMode,
    reapMode: host.info.reapMode,
    lifecycle: Object.fromEntries([...lifecycle].map(([k, v]) => [k, Object.fromEntries(Object.entries(v).map(([s, xs]) => [s, summarize(xs)]))])),
    run: Object.fromEntries([...run].map(([k, v]) => [k, summarize(v)])),
    failures: Object.fromEntries(failures),
    spawnBaseline: Object.fromEntries([...spawnBaseline].map(([k, v]) => [k, summarize(v)])),
    nsWrapper: summarize(nsWrapper),
  };
}

function comparisonRows(byRuntime) {
  const runc = byRuntime['runc']?.median;
  const crun = byRuntime['crun']?.median;
  return Object.entries(byRuntime).map(([name, s]) => [
    name,
    fmt(s.median),
    fmt(s.p90),
    fmt(s.min),
    ratio(s.median, runc),
    ratio(s.median, crun),
  ]);
}

export function renderLifecycle(r) {
  const head = ['runtime', 'median ms', 'p90 ms', 'min ms', 'median vs runc', 'median vs crun'];
  const align = ['l', 'r', 'r', 'r', 'r', 'r'];
  const totals = Object.fromEntries(Object.entries(r.lifecycle).map(([k, v]) => [k, v.totalMs]));
  const steps = Object.entries(r.lifecycle).map(([name, v]) => [name, ...STEPS.map((s) => fmt(v[s].median)), ...STEPS.map((s) => fmt(v[s].p90))]);
  const failures = Object.entries(r.failures).filter(([, f]) => f.length > 0);
  const baselines = Object.entries(r.spawnBaseline).map(([where, s]) => `\`/bin/true\` spawned by the ${where} runner: median ${fmt(s.median, 2)} ms (p90 ${fmt(s.p90, 2)})`);
  return [
    `${r.iterations} measured iterations after ${r.warmup} warm-up, runtimes interleaved with the order rotating every iteration.`,
    '',
    '### (a) create + start + wait for exit + delete of `/bin/true`',
    '',
    markdownTable(head, comparisonRows(totals), align),
    '',
    'Per step (median / p90 ms):',
    '',
    markdownTable(['runtime', 'create', 'start', 'wait', 'delete', 'create p90', 'start p90', 'wait p90', 'delete p90'], steps, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']),
    '',
    '"wait" is the time from `start` returning until the init has exited. The measuring process is a',
    `child subreaper (here: ${r.reapMode}), so the re-parented init is its child; it polls waitpid(WNOHANG)`,
    'every 0.1 ms (without koffi it would poll `/proc/<pid>/stat` for gone-or-zombie instead).',
    '',
    '### (b) `run` of `/bin/true`',
    '',
    markdownTable(head, comparisonRows(r.run), align),
    '',
    '### Harness and placement',
    '',
    ...r.placement.map((l) => `- ${l}`),
    `- Each runtime command is timed from ${r.spawnMode} to waitpid in the runner process.`,
    ...baselines.map((l) => `- ${l}; every sample above includes one such spawn per runtime command.`),
    `- A per-call \`unshare -m\` + cgroup v1 remount wrapper (not used) would add: \`${'unshare -m sh -c "mount …; exec /bin/true"'}\` median ${fmt(r.nsWrapper.median, 2)} ms (p90 ${fmt(r.nsWrapper.p90, 2)}). The runner's namespace is set up once: runner start-up ${Object.entries(r.runnerStartupMs).map(([w, ms]) => `${w} ${fmt(ms)} ms`).join(', ')}.`,
    ...(failures.length ? ['', '**Failures:**', ...failures.map(([n, f]) => `- ${n}: ${f.length} failed samples; first: \`${f[0].slice(0, 300)}\``)] : []),
  ].join('\n');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2), OPTIONS, 'node bench/oci-lifecycle.mjs [options]');
  const session = await openSession({ runtimes: opts.runtimes ? opts.runtimes.split(',') : [], snapshot: !opts.live });
  let result;
  try {
    result = await measureLifecycle(session, {
      iterations: opts.iterations,
      warmup: opts.warmup,
      progress: (i, n) => process.stderr.write(`\rlifecycle ${i}/${n}`),
    });
    process.stderr.write('\n');
  } finally {
    const c = await session.close();
    if (c.leftoverCgroups.length) process.stderr.write(`bench: cgroups left behind: ${c.leftoverCgroups.join(' ')}\n`);
  }
  process.stdout.write(`${renderLifecycle(result)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    process.stderr.write(`oci-lifecycle: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
