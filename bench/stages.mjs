#!/usr/bin/env node
/**
 * Where `kapsel-runtime run` spends its time. Runs `kapsel-runtime --debug run` of /bin/true N
 * times and aggregates the stage timings it logs (`level=debug msg="... in 12.3ms"`), next to
 * the wall time of the whole command and two floors under it:
 *
 *   - `node -e 0`: starting Node itself;
 *   - `kapsel-runtime --version`: Node plus loading kapsel's modules and parsing arguments
 *     (through bin/kapsel-runtime, a `sh` script that execs node, and without the script).
 *
 * Each log line carries its wall-clock time (ms resolution) and each stage its duration, so a
 * stage also gets a place on a timeline measured from the spawn of the command (±1 ms).
 *
 * What the logged stages do not cover is broken down by V8's sampling profiler: a few more runs
 * under `node --cpu-prof` (which slows them somewhat), self time summed per source file.
 *
 *   node bench/stages.mjs [--iterations 30] [--warmup 3]
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from './lib/args.mjs';
import { openSession } from './lib/session.mjs';
import { fmt, markdownTable, summarize } from './lib/stats.mjs';

export const OPTIONS = {
  live: { default: false, describe: 'measure dist/ as it is, not a frozen copy (lib/snapshot.mjs)' },
  iterations: { default: 30, describe: 'measured runs of each command' },
  warmup: { default: 3, describe: 'runs first and not counted' },
  'profile-runs': { default: 5, describe: 'extra runs under `node --cpu-prof` for a self-time breakdown (0: none)' },
};

const LINE = /^time="([^"]+)" level=(\w+) msg=(".*")$/;
// "<what> in 12.3ms", optionally followed by details: "rootfs ready in 13.0ms (switch root: pivot)"
const DURATION = /^(.*?)\s+in\s+(\d+(?:\.\d+)?)\s*ms\b\s*(.*)$/;

/**
 * Stage lines from a `--debug` stderr: `{ name, ms, endEpochMs }`, with pids and the container
 * id replaced so that the same stage has the same name in every run.
 */
export function parseStages(stderr, id) {
  const stages = [];
  for (const line of stderr.split('\n')) {
    const m = LINE.exec(line.trim());
    if (!m || m[2] !== 'debug') continue;
    let msg;
    try {
      msg = JSON.parse(m[3]);
    } catch {
      continue;
    }
    const d = DURATION.exec(msg);
    if (!d) continue;
    const name = `${d[1]}${d[3] ? ` ${d[3]}` : ''}`
      .replace(/^stage:\s*/, '')
      .split(id)
      .join('<id>')
      .replace(/\bpid \d+/g, 'pid <pid>');
    stages.push({ name, ms: Number(d[2]), endEpochMs: Date.parse(m[1]) });
  }
  return stages;
}

/** @param {Awaited<ReturnType<typeof openSession>>} session */
export async function measureStages(session, { iterations, warmup, progress = () => undefined }) {
  const kapsel = session.placed.find((p) => p.def.short === 'kapsel' && p.runner);
  if (!kapsel) throw new Error('stages: kapsel-runtime could not run a container here');
  const runner = kapsel.runner;
  const floors = {
    'node -e 0': [process.execPath, '-e', '0'],
    'node dist/cli/kapsel-runtime.js --version': [process.execPath, kapsel.def.cliJs, '--version'],
    'bin/kapsel-runtime --version': [kapsel.def.bin, '--version'],
  };
  const wall = new Map(Object.keys(floors).map((k) => [k, []]));
  const RUN = 'kapsel-runtime --debug run (wall)';
  wall.set(RUN, []);
  const stageMs = new Map();
  const stageStart = new Map();
  const stageEnd = new Map();
  const sumStages = [];
  const firstStageStart = [];
  const afterLastStage = [];
  const gaps = new Map(); // "a → b" -> ms between stage a's end and stage b's start
  const failures = [];
  const debugPrefix = { ...kapsel, prefix: [kapsel.def.bin, '--debug'] };

  const push = (map, key, v) => {
    if (!map.has(key)) map.set(key, []);
    map.get(key).push(v);
  };

  const runOnce = async (counted) => {
    const id = session.newId(kapsel.def);
    const t = session.target(debugPrefix, id);
    const a = await runner.request({ op: 'run', ...t });
    if (!a.ok) {
      failures.push(a.error);
      await runner.request({ op: 'cleanup', ...t, ids: [id] });
      return;
    }
    if (!counted) return;
    const stages = parseStages(readFileSync(t.errPath, 'utf8'), id);
    wall.get(RUN).push(a.ms);
    let sum = 0;
    for (const s of stages) {
      const end = s.endEpochMs - a.startEpochMs;
      push(stageMs, s.name, s.ms);
      push(stageStart, s.name, end - s.ms);
      push(stageEnd, s.name, end);
      sum += s.ms;
    }
    sumStages.push(sum);
    for (let j = 1; j < stages.length; j++) {
      const prev = stages[j - 1];
      const next = stages[j];
      push(gaps, `${prev.name} → ${next.name}`, next.endEpochMs - next.ms - prev.endEpochMs);
    }
    if (stages.length > 0) {
      firstStageStart.push(stages[0].endEpochMs - a.startEpochMs - stages[0].ms);
      afterLastStage.push(a.ms - (stages[stages.length - 1].endEpochMs - a.startEpochMs));
    }
  };

  for (let i = 0; i < warmup + iterations; i++) {
    const counted = i >= warmup;
    const jobs = [
      ...Object.entries(floors).map(([k, argv]) => async () => {
        const a = await runner.request({ op: 'exec', argv, errPath: session.errPath });
        if (!a.ok) failures.push(a.error);
        else if (counted) wall.get(k).push(a.ms);
      }),
      () => runOnce(counted),
    ];
    const k = i % jobs.length;
    for (const job of [...jobs.slice(k), ...jobs.slice(0, k)]) {
      session.throwIfAborted();
      await job();
    }
    progress(i + 1, warmup + iterations);
  }

  return {
    iterations,
    warmup,
    wall: Object.fromEntries([...wall].map(([k, v]) => [k, summarize(v)])),
    stages: [...stageMs.keys()].map((name) => ({
      name,
      ms: summarize(stageMs.get(name)),
      startMs: summarize(stageStart.get(name)),
      endMs: summarize(stageEnd.get(name)),
    })),
    sumStages: summarize(sumStages),
    unattributed: summarize(wall.get(RUN).map((w, i) => w - (sumStages[i] ?? 0))),
    gaps: Object.fromEntries([...gaps].map(([k, v]) => [k, summarize(v)])),
    firstStageStart: summarize(firstStageStart),
    afterLastStage: summarize(afterLastStage),
    failures,
  };
}

/** Where a profile node's code lives: a kapsel file, a package, a Node built-in, or a V8 bucket. */
function codeOwner(callFrame) {
  const url = callFrame.url;
  if (url.startsWith('node:')) return url;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return `npm:${rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const dist = url.indexOf('/dist/');
  return dist >= 0 ? `kapsel:${url.slice(dist + '/dist/'.length)}` : url;
}

function nodeGroup(owner) {
  if (owner.startsWith('node:internal/modules/') || owner === 'node:internal/url') return 'Node: module loader (resolve, read, compile ESM)';
  if (/^node:internal\/(bootstrap|process|main)\//.test(owner)) return 'Node: bootstrap';
  return `Node: ${owner}`;
}

/**
 * Time per sample attributed to the code that caused it, in ms per run, from `.cpuprofile` files
 * (V8 Profiler.Profile): the nearest frame on the stack that is kapsel's or a package's, so
 * `writeFileSync` in the state store counts for the state store. Samples with no such frame are
 * Node's own (bootstrap, the ESM loader); V8's buckets `(program)`, `(garbage collector)` and
 * `(idle)` stay apart.
 */
export function timeByCaller(profiles) {
  const total = new Map();
  for (const prof of profiles) {
    const byId = new Map(prof.nodes.map((n) => [n.id, n]));
    const parent = new Map();
    for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const memo = new Map();
    const attribute = (id) => {
      if (memo.has(id)) return memo.get(id);
      const cf = byId.get(id)?.callFrame;
      let key;
      if (cf && cf.url === '' && cf.functionName.startsWith('(') && cf.functionName !== '(root)') {
        key = cf.functionName;
      } else {
        // walk up to the nearest application frame; remember the nearest built-in on the way
        let builtin;
        for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
          const f = byId.get(cur)?.callFrame;
          if (!f || f.url === '') continue;
          const owner = codeOwner(f);
          if (!owner.startsWith('node:')) {
            key = owner;
            break;
          }
          builtin ??= owner;
        }
        key ??= builtin ? nodeGroup(builtin) : 'Node: native, no JS frame';
      }
      memo.set(id, key);
      return key;
    };
    prof.samples.forEach((nodeId, i) => {
      const key = attribute(nodeId);
      total.set(key, (total.get(key) ?? 0) + (prof.timeDeltas[i] ?? 0) / 1000);
    });
  }
  return [...total].map(([owner, ms]) => ({ owner, ms: ms / profiles.length })).sort((a, b) => b.ms - a.ms);
}

/** Runs `kapsel-runtime run` under `node --cpu-prof` and sums self time per source file. */
export async function profileRuns(session, runs) {
  const kapsel = session.placed.find((p) => p.def.short === 'kapsel' && p.runner);
  if (!kapsel || runs === 0) return undefined;
  const dir = join(session.dir, 'cpu-prof');
  mkdirSync(dir, { recursive: true });
  const wallMs = [];
  // The profiler interrupts the main thread with SIGPROF; a blocking syscall the runtime does
  // not restart then fails with EINTR. Such runs are retried and counted.
  const failures = [];
  const okDirs = [];
  for (let i = 0, attempts = 0; i < runs && attempts < runs * 3; attempts++) {
    session.throwIfAborted();
    const id = session.newId(kapsel.def);
    const profDir = join(dir, String(attempts));
    const prefix = [process.execPath, '--cpu-prof', '--cpu-prof-dir', profDir, kapsel.def.cliJs];
    const t = session.target({ ...kapsel, prefix }, id);
    const a = await kapsel.runner.request({ op: 'run', ...t });
    if (!a.ok) {
      failures.push(a.error.split(': exit ').pop() ?? a.error);
      await kapsel.runner.request({ op: 'cleanup', ...t, ids: [id] });
      continue;
    }
    wallMs.push(a.ms);
    okDirs.push(profDir);
    i++;
  }
  if (wallMs.length === 0) throw new Error(`profile runs all failed; first: ${failures[0]}`);
  // one directory per attempt: a failed run writes a profile too, and only successful ones count
  const profiles = okDirs.flatMap((d) =>
    readdirSync(d)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => JSON.parse(readFileSync(join(d, f), 'utf8'))),
  );
  rmSync(dir, { recursive: true, force: true });
  const sampledMs = profiles.map((p) => (p.endTime - p.startTime) / 1000);
  return { runs: profiles.length, wall: summarize(wallMs), sampled: summarize(sampledMs), owners: timeByCaller(profiles), failures };
}

export function renderProfile(p, top = 18) {
  if (!p) return '';
  const sum = (pred) => p.owners.filter((o) => pred(o.owner)).reduce((a, o) => a + o.ms, 0);
  return [
    `CPU profile of ${p.runs} \`run\`s of the unbundled ESM build (\`dist/cli/kapsel-runtime.js\`, for a breakdown per source file; bin/ runs the bundle) under \`node --cpu-prof\` (wall median ${fmt(p.wall.median)} ms with the profiler; ` +
      `the profile covers ${fmt(p.sampled.median)} ms of it, from V8 start to exit). Time per run, counted for the nearest ` +
      'kapsel or package frame on the stack (so Node `fs` calls count for their caller):',
    '',
    markdownTable(
      ['code', 'ms / run'],
      p.owners.slice(0, top).map((o) => [`\`${o.owner}\``, fmt(o.ms)]),
      ['l', 'r'],
    ),
    '',
    `Totals per run: kapsel's modules ${fmt(sum((o) => o.startsWith('kapsel:')))} ms; packages ` +
      `${fmt(sum((o) => o.startsWith('npm:')))} ms; Node with no kapsel or package frame on the stack ` +
      `${fmt(sum((o) => o.startsWith('Node')))} ms; V8 \`(program)\`/GC/idle ${fmt(sum((o) => o.startsWith('(')))} ms.`,
    ...(p.failures.length
      ? ['', `${p.failures.length} profiled attempt(s) failed and were retried; first: \`${p.failures[0].slice(0, 300)}\``]
      : []),
  ].join('\n');
}

export function renderStages(r) {
  const row = (name, s) => [name, fmt(s.median), fmt(s.p90), fmt(s.min)];
  const w = r.wall;
  const node = w['node -e 0'].median;
  const version = w['bin/kapsel-runtime --version'].median;
  const versionJs = w['node dist/cli/kapsel-runtime.js --version'].median;
  const total = w['kapsel-runtime --debug run (wall)'].median;
  return [
    `${r.iterations} measured runs of each command after ${r.warmup} warm-up, interleaved.`,
    '',
    markdownTable(
      ['command / stage', 'median ms', 'p90 ms', 'min ms'],
      [
        ...Object.entries(w).map(([k, s]) => row(k, s)),
        ...r.stages.map((s) => row(`↳ stage: ${s.name}`, s.ms)),
        row('↳ sum of logged stages', r.sumStages),
        row('↳ not covered by a logged stage', r.unattributed),
      ],
      ['l', 'r', 'r', 'r'],
    ),
    '',
    'Timeline of one `run` (medians, ms after the spawn of `kapsel-runtime`; log times have 1 ms resolution):',
    '',
    markdownTable(
      ['span', 'from', 'to', 'length'],
      [
        ['spawn → first logged stage begins', '0', fmt(r.firstStageStart.median), fmt(r.firstStageStart.median)],
        ...r.stages.flatMap((s, i) => {
          const prev = r.stages[i - 1];
          const gap = prev && r.gaps[`${prev.name} → ${s.name}`];
          return [
            ...(gap ? [[`(not logged: between ${prev.name} and ${s.name})`, fmt(prev.endMs.median), fmt(s.startMs.median), fmt(gap.median)]] : []),
            [`stage: ${s.name}`, fmt(s.startMs.median), fmt(s.endMs.median), fmt(s.ms.median)],
          ];
        }),
        ['last logged stage ends → exit', fmt(r.stages.at(-1)?.endMs.median ?? Number.NaN), fmt(w['kapsel-runtime --debug run (wall)'].median), fmt(r.afterLastStage.median)],
      ],
      ['l', 'r', 'r', 'r'],
    ),
    '',
    `Derived (medians): Node start-up ${fmt(node)} ms (\`node -e 0\`); \`--version\` (Node, the bundle and yargs, which ` +
      `the hot verbs do not load) ${fmt(version)} ms through bin/ (the native front) and ${fmt(versionJs)} ms for the unbundled ` +
      `\`dist/cli/kapsel-runtime.js\`. The stages above split a \`run\`: Node start-up and the entry bundle, argument parsing, ` +
      'the verb\'s modules (and koffi), the container work, and exit.',
    ...(r.failures.length ? ['', `**Failures:** ${r.failures.length}; first: \`${r.failures[0].slice(0, 300)}\``] : []),
  ].join('\n');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2), OPTIONS, 'node bench/stages.mjs [options]');
  const session = await openSession({ runtimes: ['kapsel-runtime'], snapshot: !opts.live });
  let result;
  try {
    result = await measureStages(session, { ...opts, progress: (i, n) => process.stderr.write(`\rstages ${i}/${n}`) });
    process.stderr.write('\n');
    result.profile = await profileRuns(session, opts['profile-runs']);
  } finally {
    const c = await session.close();
    if (c.leftoverCgroups.length) process.stderr.write(`bench: cgroups left behind: ${c.leftoverCgroups.join(' ')}\n`);
  }
  process.stdout.write(`${renderStages(result)}\n\n${renderProfile(result.profile)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    process.stderr.write(`stages: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
