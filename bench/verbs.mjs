#!/usr/bin/env node
/**
 * Per-invocation cost of the runtime verbs — `create`, `start`, `state`, `kill`, `delete` —
 * without the daemon, for several kapsel-runtime builds and runc side by side.
 *
 * Each iteration, for every runtime in an order rotating with the iteration: time `create` of a
 * busybox `sleep` container, `start`, `state`, `kill KILL`, wait for the init to exit (not timed)
 * and time `delete`. Samples are posix_spawn-to-exit wall times (lib/proc.mjs).
 *
 *   node bench/verbs.mjs [--iterations 30] [--warmup 3] [--kapsel name=/path/to/kapsel-runtime ...]
 *
 * `--kapsel` may repeat (default: this tree's bin/kapsel-runtime) to compare builds in one run.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createBusyboxBundle, RUNC } from './lib/bundle.mjs';
import { openProcessControl } from './lib/proc.mjs';
import { fmt, markdownTable, ratio, summarize } from './lib/stats.mjs';

const VERBS = ['create', 'start', 'state', 'kill', 'delete'];

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '3' },
    kapsel: { type: 'string', multiple: true },
  },
});
const iterations = Number(values.iterations);
const warmup = Number(values.warmup);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kapsels = (values.kapsel ?? [`kapsel-runtime=${join(root, 'bin', 'kapsel-runtime')}`]).map((s) => {
  const eq = s.indexOf('=');
  return { name: s.slice(0, eq), bin: s.slice(eq + 1) };
});
const runtimes = [...kapsels, { name: 'runc', bin: RUNC }];

const loadBefore = loadavg().map((l) => l.toFixed(2)).join(' ');
const began = new Date().toISOString().slice(0, 16);
const dir = mkdtempSync(join(tmpdir(), 'kapsel-bench-verbs-'));
const proc = await openProcessControl();
// no daemon: a socket path that does not exist
const env = { KAPSEL_RUNTIME_DAEMON_SOCKET: join(dir, 'no-daemon.sock') };
const bundleDir = join(dir, 'bundle');
mkdirSync(bundleDir);
const { bundle } = createBusyboxBundle(bundleDir, { args: ['sleep', '1000000'] });
const errPath = join(dir, 'stderr');
const samples = new Map(runtimes.map((r) => [r.name, Object.fromEntries(VERBS.map((v) => [v, []]))]));
const live = [];
let counter = 0;

function run(r, args) {
  const res = proc.run([r.bin, '--root', join(dir, 'state', r.name), ...args], errPath, env);
  if (res.code !== 0) throw new Error(`${r.name} ${args.join(' ')}: exit ${res.code ?? res.signal}: ${readFileSync(errPath, 'utf8').trim()}`);
  return res.ms;
}

try {
  for (let i = 0; i < warmup + iterations; i++) {
    const k = i % runtimes.length;
    for (const r of [...runtimes.slice(k), ...runtimes.slice(0, k)]) {
      const id = `kbench-verbs-${process.pid}-${counter++}`;
      const pidFile = join(dir, `${id}.pid`);
      const created = run(r, ['create', '--bundle', bundle, '--pid-file', pidFile, id]);
      live.push({ r, id });
      const pid = Number(readFileSync(pidFile, 'utf8'));
      const t = { create: created, start: run(r, ['start', id]), state: run(r, ['state', id]), kill: run(r, ['kill', id, 'KILL']) };
      proc.waitExit(pid);
      t.delete = run(r, ['delete', id]);
      live.pop();
      if (i >= warmup) for (const v of VERBS) samples.get(r.name)[v].push(t[v]);
    }
    proc.reapAll();
  }
} finally {
  for (const { r, id } of live) {
    try {
      run(r, ['delete', '--force', id]);
    } catch {
      // reported by the throw that got us here
    }
  }
  proc.reapAll();
  rmSync(dir, { recursive: true, force: true });
}

const runc = samples.get('runc');
const rows = runtimes.map((r) => {
  const s = samples.get(r.name);
  return [r.name, ...VERBS.map((v) => {
    const m = summarize(s[v]).median;
    return r.name === 'runc' ? `${fmt(m)}` : `${fmt(m)} (${ratio(m, summarize(runc[v]).median)})`;
  })];
});
console.log(`${began}Z, load ${loadBefore} → ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${iterations} iterations after ${warmup} warm-up, runtimes interleaved (rotating order); median ms (vs runc), no daemon\n`);
console.log(markdownTable(['runtime', ...VERBS], rows, ['l', ...VERBS.map(() => 'r')]));
