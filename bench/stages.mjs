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
 *   node bench/stages.mjs [--iterations 30] [--warmup 3]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from './lib/args.mjs';
import { openSession } from './lib/session.mjs';
import { fmt, markdownTable, summarize } from './lib/stats.mjs';

export const OPTIONS = {
  iterations: { default: 30, describe: 'measured runs of each command' },
  warmup: { default: 3, describe: 'runs first and not counted' },
};

const CLI_JS = fileURLToPath(new URL('../dist/cli/kapsel-runtime.js', import.meta.url));
const LINE = /^time="([^"]+)" level=(\w+) msg=(".*")$/;
const DURATION = /^(.*?)\s+in\s+(\d+(?:\.\d+)?)\s*ms$/;

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
    const name = d[1].split(id).join('<id>').replace(/\bpid \d+/g, 'pid <pid>');
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
    'node dist/cli/kapsel-runtime.js --version': [process.execPath, CLI_JS, '--version'],
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
    for (const job of [...jobs.slice(k), ...jobs.slice(0, k)]) await job();
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
    firstStageStart: summarize(firstStageStart),
    afterLastStage: summarize(afterLastStage),
    failures,
  };
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
        ...r.stages.map((s) => [s.name, fmt(s.startMs.median), fmt(s.endMs.median), fmt(s.ms.median)]),
        ['last logged stage ends → exit', '', '', fmt(r.afterLastStage.median)],
      ],
      ['l', 'r', 'r', 'r'],
    ),
    '',
    `Derived (medians): Node start-up ${fmt(node)} ms; kapsel module load and argument parsing ≈ ` +
      `\`--version\` − \`node -e 0\` = ${fmt(versionJs - node)} ms (plus ${fmt(version - versionJs)} ms for the \`sh\` wrapper in bin/); ` +
      `the container work of \`run\` ≈ run − \`--version\` = ${fmt(total - version)} ms.`,
    ...(r.failures.length ? ['', `**Failures:** ${r.failures.length}; first: \`${r.failures[0].slice(0, 300)}\``] : []),
  ].join('\n');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2), OPTIONS, 'node bench/stages.mjs [options]');
  const session = await openSession({ runtimes: ['kapsel-runtime'] });
  let result;
  try {
    result = await measureStages(session, { ...opts, progress: (i, n) => process.stderr.write(`\rstages ${i}/${n}`) });
    process.stderr.write('\n');
  } finally {
    const c = await session.close();
    if (c.leftoverCgroups.length) process.stderr.write(`bench: cgroups left behind: ${c.leftoverCgroups.join(' ')}\n`);
  }
  process.stdout.write(`${renderStages(result)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    process.stderr.write(`stages: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
