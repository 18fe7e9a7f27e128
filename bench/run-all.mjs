#!/usr/bin/env node
/**
 * The whole benchmark suite in one command; writes bench/RESULTS.md.
 *
 *   node bench/run-all.mjs [--iterations 30] [--warmup 3] [--rss-samples 10] [--profile-runs 5]
 *
 * Needs root, runc, crun, GNU time, and a built kapsel (`npx tsc -p tsconfig.json && node
 * scripts/postbuild.mjs && make -s -C native`). Leaves nothing behind: every container is
 * deleted, the tmpdir removed, and the cgroups named after this run are checked to be gone.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from './lib/args.mjs';
import { findCgroups } from './lib/cgroup-scan.mjs';
import { openSession } from './lib/session.mjs';
import { RUNTIMES } from './lib/runtimes.mjs';
import { buildStamp, REPO } from './lib/snapshot.mjs';
import { fmt, markdownTable, ratio } from './lib/stats.mjs';
import { measureLifecycle, renderLifecycle } from './oci-lifecycle.mjs';
import { measureRss, renderRss } from './rss.mjs';
import { measureStages, profileRuns, renderProfile, renderStages } from './stages.mjs';
import { measureScale, renderScale } from './scale.mjs';

/**
 * Sections other benches add to this report, measured after the OCI ones in the same session:
 * `{ title, module }`, where the module exports `measure(session, opts)` (opts: this script's
 * options) and `render(result)` (Markdown). For `kapsel run` vs podman, image pull and unpack,
 * network and VM benches.
 */
const EXTRA_SECTIONS = [];

const OUT = fileURLToPath(new URL('./RESULTS.md', import.meta.url));

/**
 * The sections other benches wrote into the results file (`## ... (bench/<name>.mjs)`), kept
 * after this run's own, so running the suite does not throw their numbers away.
 */
function otherBenchSections(path) {
  let old;
  try {
    old = readFileSync(path, 'utf8');
  } catch {
    return '';
  }
  const sections = old.split(/^(?=## )/m).filter((sec) => /^## .*\(bench\/[\w-]+\.mjs/.test(sec));
  return sections.length === 0 ? '' : `\n${sections.map((sec) => sec.trimEnd()).join('\n\n')}\n`;
}

const OPTIONS = {
  iterations: { default: 30, describe: 'measured iterations (lifecycle, run, stages)' },
  warmup: { default: 3, describe: 'warm-up iterations, not counted' },
  'rss-samples': { default: 10, describe: 'creates measured per runtime for peak RSS' },
  'profile-runs': { default: 5, describe: 'kapsel `run`s under node --cpu-prof (0: none)' },
  count: { default: 100, describe: 'containers per runtime in the scale runs (0: skip them)' },
  parallel: { default: 10, describe: 'containers started at once in the parallel scale run' },
  'exec-iterations': { default: 30, describe: 'measured exec calls per runtime' },
  out: { default: OUT, describe: 'Markdown report to write' },
  live: { default: false, describe: 'measure dist/ as it is, not a frozen copy taken when the build is quiet' },
};

function sh(argv) {
  try {
    return execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    return `(${argv.join(' ')} failed: ${String(err.stderr ?? err.message).trim().split('\n')[0]})`;
  }
}

function cgroupLayout() {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  const v1 = mounts.filter((l) => / - cgroup /.test(l)).map((l) => l.split(' ')[4]?.replace('/sys/fs/cgroup/', ''));
  const v2 = mounts.filter((l) => / - cgroup2 /.test(l)).map((l) => l.split(' ')[4]);
  const v2ctl = v2.map((m) => sh(['cat', `${m}/cgroup.controllers`]) || 'none');
  if (v2.length && !v1.length) return `cgroup v2 (unified) at ${v2.join(', ')}`;
  return `cgroup v1 (${v1.join(', ')})${v2.length ? ` + cgroup2 at ${v2.join(', ')} offering \`${v2ctl.join(' ')}\` (hybrid)` : ''}`;
}

function environment() {
  const head = sh(['git', '-C', REPO, 'rev-parse', 'HEAD']);
  // --no-optional-locks: status must not refresh (write) the index of a tree others work in
  const dirty = sh(['git', '--no-optional-locks', '-C', REPO, 'status', '--porcelain', '--untracked-files=no']);
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memGiB: os.totalmem() / 2 ** 30,
    kernel: `${os.release()} (${os.version()})`,
    cgroups: cgroupLayout(),
    node: process.version,
    runc: sh(['/usr/sbin/runc', '--version']).split('\n').slice(0, 2).join(', '),
    crun: sh(['/usr/bin/crun', '--version']).split('\n').slice(0, 2).join(', '),
    kapsel: sh([RUNTIMES[0].bin, '--version']).split('\n').join(', '),
    rev: `${head.slice(0, 12)}${dirty ? ` with ${dirty.split('\n').length} uncommitted change(s) to tracked files` : ''}`,
    distBuilt: buildStamp(),
  };
}

function summary(l, rss, st, sc) {
  const rows = Object.keys(l.lifecycle).map((name) => {
    const lc = l.lifecycle[name].totalMs.median;
    const rn = l.run[name]?.median;
    const mem = rss.rss[name]?.median;
    return [
      name,
      fmt(lc),
      ratio(lc, l.lifecycle['runc']?.totalMs.median),
      ratio(lc, l.lifecycle['crun']?.totalMs.median),
      fmt(rn),
      ratio(rn, l.run['runc']?.median),
      ratio(rn, l.run['crun']?.median),
      fmt((mem ?? Number.NaN) / 1024),
    ];
  });
  const scaleRows = sc === undefined ? [] : Object.keys(sc.sequential).map((name) => {
    const pick = (obj, f) => [fmt(f(obj[name])), ratio(f(obj[name]), obj['runc'] ? f(obj['runc']) : undefined), ratio(f(obj[name]), obj['crun'] ? f(obj['crun']) : undefined)];
    return [name, ...pick(sc.sequential, (x) => x.totalMs), ...pick(sc.parallelRun, (x) => x.totalMs), ...pick(sc.exec, (x) => x.median)];
  });
  const w = st.wall;
  const k = l.lifecycle['kapsel-runtime'];
  return [
    markdownTable(
      ['runtime', 'lifecycle median ms', 'vs runc', 'vs crun', '`run` median ms', 'vs runc', 'vs crun', 'create peak RSS MiB'],
      rows,
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    ...(sc === undefined ? [] : [
      markdownTable(
        ['runtime', `${sc.count} sequential ms`, 'vs runc', 'vs crun', `${sc.count}, ${sc.parallel} at a time ms`, 'vs runc', 'vs crun', 'exec median ms', 'vs runc', 'vs crun'],
        scaleRows,
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
      '',
    ]),
    `Of kapsel's \`run\` (${fmt(w['kapsel-runtime --debug run (wall)'].median)} ms with \`--debug\`; \`node -e 0\` alone takes ` +
      `${fmt(w['node -e 0'].median)} ms), the logged stages (medians) are: ` +
      st.stages.map((s) => `${s.name.replace(/ pid <pid>/, '')} ${fmt(s.ms.median)}`).join(', ') + ' ms.' +
      (k ? ` Without a daemon each verb pays Node's start-up again (create ${fmt(k.createMs.median)}, start ${fmt(k.startMs.median)}, ` +
        `delete ${fmt(k.deleteMs.median)} ms); with \`kapsel-runtime daemon\` running, create, start and delete take ` +
        `${fmt(l.lifecycle['kapsel-runtime+daemon']?.createMs.median)}, ${fmt(l.lifecycle['kapsel-runtime+daemon']?.startMs.median)} and ${fmt(l.lifecycle['kapsel-runtime+daemon']?.deleteMs.median)} ms.` : ''),
  ].join('\n');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2), OPTIONS, 'node bench/run-all.mjs [options]');
  const env = environment();
  const load0 = os.loadavg();
  const kapselCgroupsBefore = findCgroups((n) => n.startsWith('kapsel'));
  const t0 = performance.now();
  const progress = (what) => (i, n) => process.stderr.write(`\r${what} ${i}/${n}   `);

  const session = await openSession({ snapshot: !opts.live });
  let lifecycle;
  let rss;
  let stages;
  let cleanup;
  let scale;
  /** @type {{ pid: number, peakMiB: number, rssMiB: number }[]} */
  let daemonMemory = [];
  const extra = [];
  try {
    lifecycle = await measureLifecycle(session, { iterations: opts.iterations, warmup: opts.warmup, progress: progress('lifecycle + run') });
    if (opts.count > 0) {
      scale = await measureScale(session, {
        count: opts.count,
        parallel: opts.parallel,
        execIterations: opts['exec-iterations'],
        warmup: opts.warmup,
        progress: (what) => process.stderr.write(`\rscale ${what}        `),
      });
    }
    for (const x of EXTRA_SECTIONS) {
      const m = await import(x.module);
      extra.push({ title: x.title, text: m.render(await m.measure(session, opts)) });
    }
    process.stderr.write('\rpeak RSS ...            ');
    rss = await measureRss(session, { samples: opts['rss-samples'] });
    stages = await measureStages(session, { iterations: opts.iterations, warmup: opts.warmup, progress: progress('stages') });
    process.stderr.write('\rCPU profile ...         ');
    stages.profile = await profileRuns(session, opts['profile-runs']);
    process.stderr.write('\n');
    daemonMemory = session.daemonMemory();
  } finally {
    cleanup = await session.close();
  }
  const load1 = os.loadavg();
  const build = session.kapselBuild;
  const builtAfter = buildStamp();
  const rebuilt = builtAfter !== (build.stamp ?? env.distBuilt);
  if (rebuilt && build.from !== 'snapshot') process.stderr.write(`run-all: kapsel was rebuilt during the run (${env.distBuilt} → ${builtAfter}); samples mix builds\n`);
  const buildNote =
    build.from === 'snapshot'
      ? `measured a copy of the build of ${build.stamp}${rebuilt ? ` (dist/ was rebuilt meanwhile, at ${builtAfter})` : ''}`
      : `measured dist/ in place, built ${env.distBuilt}${rebuilt ? ` **and rebuilt during the run (${builtAfter}): samples mix builds**` : ', unchanged during the run'}`;
  const kapselCgroupsAfter = findCgroups((n) => n.startsWith('kapsel'));
  const newKapsel = kapselCgroupsAfter.filter((c) => !kapselCgroupsBefore.includes(c));
  const minutes = (performance.now() - t0) / 60_000;

  const md = [
    '# kapsel bench results',
    '',
    `Generated by \`node bench/run-all.mjs --iterations ${opts.iterations} --warmup ${opts.warmup} --rss-samples ${opts['rss-samples']} --profile-runs ${opts['profile-runs']} --count ${opts.count} --parallel ${opts.parallel} --exec-iterations ${opts['exec-iterations']}\` ` +
      `on ${env.date} (${fmt(minutes)} min). Numbers are wall-clock milliseconds of the runtime commands, as a shell user sees them.`,
    '',
    '## Machine and versions',
    '',
    markdownTable(
      ['', ''],
      [
        ['CPU', `${env.nproc} × ${env.cpu}`],
        ['memory', `${fmt(env.memGiB)} GiB`],
        ['kernel', env.kernel],
        ['cgroups', env.cgroups],
        ['load average (1/5/15 min) before → after', `${load0.map((x) => x.toFixed(2)).join(' ')} → ${load1.map((x) => x.toFixed(2)).join(' ')}`],
        ['node', env.node],
        ['runc', env.runc],
        ['crun', env.crun],
        ['kapsel-runtime', `${env.kapsel}; git ${env.rev}; ${buildNote}`],
      ],
    ),
    '',
    'The host is shared: other work may run at the same time (see the load average), which is why',
    'the runtimes are interleaved within each iteration rather than measured one after another.',
    '',
    '## Summary',
    '',
    summary(lifecycle, rss, stages, scale),
    '',
    '## Lifecycle and `run`',
    '',
    renderLifecycle(lifecycle),
    '',
    ...(scale ? ['## Many containers, and exec', '', renderScale(scale), ''] : []),
    ...extra.flatMap((x) => [`## ${x.title}`, '', x.text, '']),
    '## Peak memory',
    '',
    renderRss(rss),
    '',
    ...(daemonMemory.length > 0 ? [
      `The \`kapsel-runtime+daemon\` row measures the front only. The daemon is one process for every container,`,
      `measured after all the benches above: peak RSS ${daemonMemory.map((d) => d.peakMiB.toFixed(1)).join(', ')} MiB, RSS at the end ${daemonMemory.map((d) => d.rssMiB.toFixed(1)).join(', ')} MiB.`,
      '',
    ] : []),
    '## Where kapsel-runtime spends its time',
    '',
    renderStages(stages),
    '',
    renderProfile(stages.profile),
    '',
    '## Method',
    '',
    '- Bundle: a tmpdir rootfs with a static `/bin/busybox` and its applet symlinks; `config.json` from',
    '  `runc spec` with `terminal: false` and `args: ["/bin/true"]`. The same bundle serves every runtime;',
    '  each runtime has its own `--root` under the tmpdir. No `cgroupsPath` is set, so each runtime uses',
    '  its default with ids `kbench-<pid>-<runtime>-<n>`: crun `/<id>`, kapsel `/kapsel/<id>`, runc `<id>`',
    '  relative to its caller\'s cgroup in each hierarchy. On this hybrid host runc and kapsel also create',
    '  the container\'s cgroup in the cgroup2 hierarchy; crun (see below) does not.',
    '- A runner process (bench/lib/runner.mjs) times each runtime command from posix_spawn(3) to waitpid(2)',
    '  and is a child subreaper, so the init of a started container is re-parented to it and reaped.',
    '- crun 1.8.1 refuses this hybrid host; its runner lives in a private mount namespace made once when the',
    '  runner starts: a read-only tmpfs over `/sys/fs/cgroup` with the v1 hierarchies mounted again and no',
    '  cgroup2 mount. crun sees a cgroup v1 host and creates v1 cgroups through cgroupfs, and its samples carry',
    '  no `unshare` cost. (A tmpfs over just `/sys/fs/cgroup/unified` does not do: crun fills it with',
    '  "unified" cgroup directories it never removes, then fails and leaks its v1 cgroups.)',
    '- kapsel: unless `--live`, a copy of `dist/` and the native stage and front taken once the build had been',
    '  quiet for 20 s (bench/lib/snapshot.mjs), run through the same native front as `bin/kapsel-runtime`;',
    '  others rebuild the tree while the bench runs. `kapsel-runtime` is measured with no daemon (its rows',
    '  name a socket nobody serves); `kapsel-runtime+daemon` is the same binary with a `kapsel-runtime daemon`',
    '  the session starts first and stops at the end, which serves every command line measured here (for',
    '  create, run and exec the front forks the native stage and the daemon drives it; docs/architecture.md).',
    '- Statistics: median and p90 by linear interpolation between ranks; ratios are of medians.',
    '',
    '## Cleanup check',
    '',
    `- containers the final cleanup had to delete (left over from failed samples): ${cleanup.deleted}`,
    `- cleanup problems: ${cleanup.problems.length === 0 ? 'none; every runtime\'s --root was empty at the end' : cleanup.problems.join('; ')}`,
    `- cgroups named \`${session.idPrefix}*\` left anywhere under /sys/fs/cgroup: ${cleanup.leftoverCgroups.length === 0 ? 'none' : cleanup.leftoverCgroups.join(', ')}`,
    `- \`kapsel*\` cgroups anywhere under /sys/fs/cgroup: ${kapselCgroupsBefore.length} before, ${kapselCgroupsAfter.length} after` +
      `${newKapsel.length ? ` (new: ${newKapsel.join(', ')}; may belong to other users of this host)` : ''}`,
    `- tmpdir: ${cleanup.keptDir ? `kept (still mounted): ${cleanup.keptDir}` : 'removed'}`,
    '',
  ].join('\n');
  writeFileSync(opts.out, md + otherBenchSections(opts.out));
  process.stderr.write(`wrote ${opts.out}\n`);
  if (cleanup.leftoverCgroups.length > 0 || cleanup.problems.length > 0) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`run-all: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
