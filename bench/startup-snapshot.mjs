#!/usr/bin/env node
/**
 * Would a V8 user-land start-up snapshot (`node --build-snapshot`, then `node --snapshot-blob`)
 * start kapsel-runtime faster than the code-cache bundle it runs now (scripts/bundle.mjs)? The
 * experiment of README "Performance", kept so that it can be repeated on another Node.
 *
 * From this tree's dist/bundle/kapsel-runtime.cjs it builds, in a tmpdir:
 *   - empty.blob: a snapshot with nothing of kapsel in it: the fixed cost of a user-land snapshot;
 *   - kapsel.blob: the bundle's top level evaluated, its entry's `main()` deferred to
 *     `v8.startupSnapshot.setDeserializeMainFunction` (argv, env, cwd, umask and the clock are
 *     read by main() at run time; koffi is loaded on the first C call, as without a snapshot);
 *   - modules.blob: also every module the bundle loads lazily (esbuild's `init_*` wrappers)
 *     evaluated, but those that cannot be (SharedArrayBuffer does not exist while a snapshot is
 *     built) and the modules that import them;
 *   - eager.blob: the same with every function compiled (as the code cache has them);
 * then times posix_spawn-to-exit, interleaved, of `node -e 0`, `node --snapshot-blob empty.blob`,
 * `state <missing id>` through the code-cache starter and through each blob, and runc's `state`,
 * and reports each one's peak RSS (GNU time's %M). With `--verbs` it also runs bench/verbs.mjs on
 * two identical shell wrappers, one per start-up path (`create start state kill delete`).
 *
 *   node bench/startup-snapshot.mjs [--iterations 30] [--warmup 3] [--verbs]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RUNC } from './lib/bundle.mjs';
import { openProcessControl } from './lib/proc.mjs';
import { fmt, markdownTable, ratio, summarize } from './lib/stats.mjs';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '3' },
    verbs: { type: 'boolean', default: false },
  },
});
const iterations = Number(values.iterations);
const warmup = Number(values.warmup);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundleFile = join(root, 'dist', 'bundle', 'kapsel-runtime.cjs');
const starter = join(root, 'dist', 'bundle', 'kapsel-runtime.start.cjs');
if (!existsSync(bundleFile)) throw new Error(`${bundleFile} is missing: npm run build (with esbuild installed)`);
const GNU_TIME = '/usr/bin/time';
const node = process.execPath;
// as bin/kapsel-runtime runs node: without NODE_EXTRA_CA_CERTS (children inherit this env)
delete process.env['NODE_EXTRA_CA_CERTS'];

/**
 * The bundle as a snapshot entry: evaluated at build time, its main() run after deserialization.
 * `modules`: also evaluate the lazily loaded modules but `exclude`; `eager`: and compile every
 * function (V8's --no-lazy while the bundle is compiled, as scripts/bundle.mjs does for its cache).
 */
function snapshotEntry({ modules = false, eager = false, exclude = new Set() } = {}) {
  const source = readFileSync(bundleFile, 'utf8');
  const tail = 'process.once("exit", () => mark("exit"));\nmain().catch((err) => {\n  process.exitCode = report(err);\n});\n';
  if (!source.includes(tail)) throw new Error('the bundle no longer ends with main().catch(...): update bench/startup-snapshot.mjs');
  let body = source.replace(tail, 'globalThis.__kapselMain = () => {\n' + tail + '};\n');
  if (modules) {
    const inits = [...source.matchAll(/^var (init_[\w$]+) = __esm\(/gm)].map((m) => m[1]).filter((n) => !exclude.has(n));
    body += `\nfor (const [name, init] of [${inits.map((n) => `[${JSON.stringify(n)}, ${n}]`).join(', ')}]) {
  try { init(); } catch (err) { process.stderr.write(\`snapshot: module \${name}: \${err.message}\\n\`); process.exit(3); }
}\n`;
  }
  const wrapper = `(function (exports, require, module, __filename, __dirname) {\n${body}\n})`;
  const compiled = eager
    ? `(() => {
  v8.setFlagsFromString('--no-lazy');
  try {
    return builtin('node:vm').runInThisContext(${JSON.stringify(wrapper)}, { filename: ${JSON.stringify(bundleFile)} });
  } finally {
    v8.setFlagsFromString('--lazy');
  }
})()`
    : wrapper;
  return `'use strict';
const builtin = require; // while a snapshot is built, require() loads only Node's own modules
const v8 = builtin('node:v8');
let external; // yargs: from node_modules, at run time
const bundleRequire = (id) => (id.startsWith('node:') ? builtin(id) : external(id));
const mod = { exports: {} };
${compiled}(mod.exports, bundleRequire, mod, ${JSON.stringify(bundleFile)}, ${JSON.stringify(dirname(bundleFile))});
const main = globalThis.__kapselMain;
delete globalThis.__kapselMain;
v8.startupSnapshot.setDeserializeMainFunction(() => {
  external = builtin('node:module').createRequire(${JSON.stringify(bundleFile)});
  process.argv.splice(1, 0, ${JSON.stringify(bundleFile)}); // node --snapshot-blob B -- ARGS: argv[1] is ARGS[0]
  main();
});
`;
}

/** Builds `blob` from `entry`; returns the build's wall time in ms, or the failure's stderr. */
function buildBlob(dir, name, entry) {
  const entryFile = join(dir, `${name}.cjs`);
  writeFileSync(entryFile, entry);
  const began = process.hrtime.bigint();
  const r = spawnSync(node, ['--snapshot-blob', join(dir, `${name}.blob`), '--build-snapshot', entryFile], { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - began) / 1e6;
  return r.status === 0 ? { ms } : { error: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'kapsel-bench-snapshot-'));
try {
  const built = {};
  built.empty = buildBlob(dir, 'empty', "require('node:v8').startupSnapshot.setDeserializeMainFunction(() => {});\n");
  built.kapsel = buildBlob(dir, 'kapsel', snapshotEntry());
  // a module that fails while the snapshot is built fails for good (esbuild's __esm keeps the
  // error): leave it, and whatever imports it, to run time
  const exclude = new Set();
  for (;;) {
    built.modules = buildBlob(dir, 'modules', snapshotEntry({ modules: true, exclude }));
    const failed = /snapshot: module (init_[\w$]+): /.exec(built.modules.error ?? '');
    if (failed === null || exclude.has(failed[1])) break;
    exclude.add(failed[1]);
  }
  built.eager = buildBlob(dir, 'eager', snapshotEntry({ modules: true, eager: true, exclude }));
  for (const [name, b] of Object.entries(built)) if (b.error !== undefined) throw new Error(`building ${name}.blob: ${b.error}`);

  const stateArgs = ['--root', join(dir, 'state'), 'state', 'kbench-snapshot-missing'];
  const snap = (blob) => [node, '--snapshot-blob', join(dir, blob), '--', ...stateArgs];
  const variants = [
    { name: '`node -e 0`', argv: [node, '-e', '0'] },
    { name: '`node --snapshot-blob empty.blob`', argv: [node, '--snapshot-blob', join(dir, 'empty.blob')] },
    { name: 'state: code-cache bundle (now)', argv: [node, starter, ...stateArgs] },
    { name: 'state: kapsel.blob', argv: snap('kapsel.blob') },
    { name: 'state: modules.blob', argv: snap('modules.blob') },
    { name: 'state: eager.blob', argv: snap('eager.blob') },
    { name: 'state: runc', argv: [RUNC, ...stateArgs] },
  ];
  const errPath = join(dir, 'stderr');
  const proc = await openProcessControl();
  const samples = variants.map(() => []);
  const loadBefore = loadavg().map((l) => l.toFixed(2)).join(' ');
  const began = new Date().toISOString().slice(0, 16);
  for (let i = 0; i < warmup + iterations; i++) {
    const k = i % variants.length;
    for (const j of [...variants.keys()].slice(k).concat([...variants.keys()].slice(0, k))) {
      const res = proc.run(variants[j].argv, errPath);
      // every `state` must have run and found no container: a blob that did not start would be fast
      if (variants[j].argv.includes('state') && (res.code !== 1 || !/does not exist/.test(readFileSync(errPath, 'utf8')))) {
        throw new Error(`${variants[j].name}: exit ${res.code ?? res.signal}: ${readFileSync(errPath, 'utf8').trim()}`);
      }
      if (i >= warmup) samples[j].push(res.ms);
    }
  }
  proc.reapAll();
  const rss = variants.map((v) => {
    if (!existsSync(GNU_TIME)) return Number.NaN;
    const kib = [];
    for (let i = 0; i < 5; i++) {
      const out = join(dir, 'rss');
      spawnSync(GNU_TIME, ['-f', '%M', '-o', out, ...v.argv], { stdio: 'ignore' });
      kib.push(Number(readFileSync(out, 'utf8').trim().split('\n').pop()));
    }
    return summarize(kib).median / 1024;
  });
  const runcMedian = summarize(samples[variants.length - 1]).median;
  const bare = summarize(samples[0]).median;
  console.log(`${began}Z, node ${process.version}, load ${loadBefore} → ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${iterations} iterations after ${warmup} warm-up, interleaved (rotating order)\n`);
  console.log(markdownTable(['start-up', 'median ms', 'p90', 'vs runc', 'vs node -e 0', 'peak RSS MiB'], variants.map((v, j) => {
    const s = summarize(samples[j]);
    return [v.name, fmt(s.median), fmt(s.p90), ratio(s.median, runcMedian), `${s.median >= bare ? '+' : ''}${fmt(s.median - bare)}`, fmt(rss[j])];
  }), ['l', 'r', 'r', 'r', 'r', 'r']));
  const size = (f) => (statSync(f).size / 1024 / 1024).toFixed(2);
  console.log(`\nblobs: empty ${size(join(dir, 'empty.blob'))} MiB (built in ${fmt(built.empty.ms, 0)} ms), kapsel ${size(join(dir, 'kapsel.blob'))} MiB (${fmt(built.kapsel.ms, 0)} ms), modules ${size(join(dir, 'modules.blob'))} MiB (${fmt(built.modules.ms, 0)} ms; ${exclude.size} modules left to run time), eager ${size(join(dir, 'eager.blob'))} MiB (${fmt(built.eager.ms, 0)} ms); code-cache bundle ${size(bundleFile)} MiB + cache ${size(`${bundleFile}.cache`)} MiB`);

  if (values.verbs) {
    const wrapper = (name, args) => {
      const file = join(dir, `run-${name}`);
      writeFileSync(file, `#!/bin/sh\nunset NODE_EXTRA_CA_CERTS\nexec ${node} ${args} "$@"\n`, { mode: 0o755 });
      return `${name}=${file}`;
    };
    const r = spawnSync(node, [join(root, 'bench', 'verbs.mjs'), '--iterations', String(iterations), '--warmup', String(warmup),
      '--kapsel', wrapper('code-cache', starter),
      '--kapsel', wrapper('kapsel.blob', `--snapshot-blob ${join(dir, 'kapsel.blob')} --`),
      '--kapsel', wrapper('modules.blob', `--snapshot-blob ${join(dir, 'modules.blob')} --`),
      '--kapsel', wrapper('eager.blob', `--snapshot-blob ${join(dir, 'eager.blob')} --`)], { stdio: 'inherit' });
    if (r.status !== 0) process.exitCode = 1;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
