#!/usr/bin/env node
/**
 * Unpack throughput of a generated multi-layer image: kapsel (images/unpack.ts) next to
 * `umoci unpack` and GNU tar, in the same run. Belongs in bench/ (left here by the images work).
 *
 *   node images/unpack-bench.mjs [--iterations 3] [--keep DIR]
 *
 * Needs root (ownership, device nodes), umoci and GNU tar, and a built kapsel (`npx tsc -p
 * tsconfig.json`). The image is made from host directories (real files: headers, Python, Perl,
 * node modules), one tar+gzip layer each, plus a top layer of whiteouts, written both as an
 * OCI layout (for umoci) and into a kapsel store. Each iteration unpacks into a fresh directory
 * with each tool in turn (order rotating); everything lives in one tmpdir, removed at the end.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildHostLayout, run, sha256 } from './lib/host-layout.mjs';

const dist = new URL('../dist/', import.meta.url);
const { ContentStore } = await import(new URL('images/store.js', dist));
const { loadImage, unpackImage } = await import(new URL('images/image.js', dist));
const { linuxSyscalls } = await import(new URL('sys/linux-syscalls.js', dist));

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '3' }, keep: { type: 'string' } } });
const ITERATIONS = Number(values.iterations);
const SOURCES = ['usr/include', 'usr/lib/python3.11', 'usr/share/perl', 'usr/lib/node_modules'];
const WHITEOUTS = ['usr/include/.wh.linux', 'usr/share/perl/.wh.5.36'];

const dirBytes = (dir) => Number(run('du', ['-sb', '--apparent-size', dir]).toString().split('\t')[0]);

const work = values.keep ?? mkdtempSync(join(tmpdir(), 'kapsel-unpack-bench-'));
try {
  // 1. layers: GNU tar of host directories, numeric owners, xattrs, gzip -6, then whiteouts
  const { layout, layers, config, manifest, descriptor, tarTotal, gzTotal } = buildHostLayout(work, { sources: SOURCES, whiteouts: WHITEOUTS, refName: 'bench' });

  // 2. the same blobs in a kapsel store
  const store = await ContentStore.open({ root: join(work, 'store'), syscalls: linuxSyscalls() });
  for (const l of [...layers, config, manifest]) await store.put(readFileSync(join(layout, 'blobs', 'sha256', l.digest.slice(7))), l.digest);
  await store.tag('bench', descriptor);

  // 3. the contestants
  const tools = {
    kapsel: async (dir) => {
      mkdirSync(dir);
      const image = await loadImage(store, 'bench');
      await unpackImage(store, image, dir, { syscalls: linuxSyscalls() });
    },
    umoci: async (dir) => {
      const r = spawnSync('umoci', ['unpack', '--image', `${layout}:bench`, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
      if (r.status !== 0) throw new Error(`umoci: ${r.stderr}`);
    },
    'GNU tar (no whiteouts)': async (dir) => {
      mkdirSync(dir);
      for (const l of layers) run('tar', ['-C', dir, '--numeric-owner', '--xattrs', '-xzf', join(layout, 'blobs', 'sha256', l.digest.slice(7))]);
    },
  };
  const names = Object.keys(tools);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  let unpackedBytes = 0;
  for (let i = 0; i < ITERATIONS + 1; i++) {
    const order = names.map((_, k) => names[(k + i) % names.length]);
    for (const name of order) {
      const dir = join(work, `out-${i}-${name.replace(/\W+/g, '_')}`);
      execFileSync('sync');
      const t0 = process.hrtime.bigint();
      await tools[name](dir);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (name === 'kapsel') unpackedBytes = dirBytes(dir);
      if (i > 0) samples[name].push(ms); // iteration 0 warms the page cache
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const mib = (b) => (b / 1048576).toFixed(1);
  console.log(`image: ${layers.length} layers, ${mib(gzTotal)} MiB gzip, ${mib(tarTotal)} MiB tar, ${mib(unpackedBytes)} MiB unpacked (apparent)`);
  console.log(`${ITERATIONS} measured iterations after 1 warm-up; median wall time and uncompressed-tar throughput`);
  for (const name of names) {
    const ms = median(samples[name]);
    console.log(`  ${name.padEnd(24)} ${ms.toFixed(0).padStart(6)} ms  ${(tarTotal / 1048576 / (ms / 1000)).toFixed(0).padStart(4)} MiB/s  (samples: ${samples[name].map((s) => s.toFixed(0)).join(', ')})`);
  }
  console.log(`versions: node ${process.version}; ${run('umoci', ['--version']).toString().trim()}; ${run('tar', ['--version']).toString().split('\n')[0]}`);
} finally {
  if (values.keep === undefined) rmSync(work, { recursive: true, force: true });
}
