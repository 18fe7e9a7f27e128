#!/usr/bin/env node
/**
 * Container root filesystems from a large multi-layer image, in the same run:
 *   - kapsel copy:        every layer applied into the container's own directory (no overlayfs)
 *   - umoci unpack:       the same, by umoci (the peer)
 *   - kapsel snapshots, first container: each layer unpacked once into <store>/snapshots/, then an
 *                         overlay mounted (the cold path)
 *   - kapsel snapshots, next container:  snapshots exist; only the overlay mount (the warm path)
 *
 *   node bench/image-bench.mjs [--iterations 3]
 *
 * Needs root, umoci, GNU tar and gzip, and a built kapsel. The image is made from host
 * directories (headers, gcc's libraries, Python, Perl, node modules: >= 200 MiB of tar), one
 * tar+gzip layer each plus a top layer of whiteouts, written as an OCI layout (umoci's input)
 * and loaded into a kapsel store with `loadArchive` (timed once). Each iteration runs each
 * contestant in turn (order rotating) on fresh directories; iteration 0 is a warm-up. Everything
 * lives in one tmpdir, unmounted and removed at the end.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildHostLayout, run } from './lib/host-layout.mjs';

const dist = new URL('../dist/', import.meta.url);
const { ContentStore } = await import(new URL('images/store.js', dist));
const { loadImage } = await import(new URL('images/image.js', dist));
const { loadArchive } = await import(new URL('images/archive-load.js', dist));
const { prepareRootfs, releaseRootfs } = await import(new URL('images/snapshots.js', dist));
const { linuxSyscalls } = await import(new URL('sys/linux-syscalls.js', dist));

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '3' } } });
const ITERATIONS = Number(values.iterations);
const SOURCES = ['usr/include', 'usr/lib/gcc', 'usr/lib/python3.11', 'usr/share/perl', 'usr/lib/node_modules'];
const WHITEOUTS = ['usr/include/.wh.linux', 'usr/share/perl/.wh.5.36'];
const sys = linuxSyscalls();

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mib = (b) => (b / 1048576).toFixed(1);
const now = () => Number(process.hrtime.bigint()) / 1e6;

const work = mkdtempSync(join(tmpdir(), 'kapsel-image-bench-'));
const mountsUnder = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(work));
try {
  // 1. the image, as an OCI layout
  const { layout, layers, tarTotal, gzTotal } = buildHostLayout(work, { sources: SOURCES, whiteouts: WHITEOUTS, refName: 'bench:1' });

  // 2. kapsel load of the layout (every blob hashed and verified)
  const store = await ContentStore.open({ root: join(work, 'store'), syscalls: sys });
  let t0 = now();
  await loadArchive(store, layout);
  const loadMs = now() - t0;
  const image = await loadImage(store, 'docker.io/library/bench:1');

  // 3. the contestants; each gets a fresh container directory
  let n = 0;
  const containerDir = () => join(store.root, 'containers', `c${n++}`);
  const dropSnapshots = () => rmSync(join(store.root, 'snapshots'), { recursive: true, force: true });
  const tools = {
    'kapsel copy': async () => {
      const dir = containerDir();
      await prepareRootfs(store, image, dir, sys, { kind: 'copy' });
      return dir;
    },
    'umoci unpack': async () => {
      const dir = join(work, `umoci-${n++}`);
      const r = spawnSync('umoci', ['unpack', '--image', `${layout}:bench:1`, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
      if (r.status !== 0) throw new Error(`umoci: ${r.stderr}`);
      return dir;
    },
    'kapsel snapshots, first container': async () => {
      dropSnapshots();
      const dir = containerDir();
      const p = await prepareRootfs(store, image, dir, sys, { kind: 'overlay' });
      if (p.unpackedLayers !== layers.length) throw new Error(`expected ${layers.length} layers unpacked, got ${p.unpackedLayers}`);
      return dir;
    },
  };
  const names = [...Object.keys(tools), 'kapsel snapshots, next container'];
  const samples = Object.fromEntries(names.map((k) => [k, []]));
  const cleanup = (dir) => {
    if (existsSync(join(dir, 'rootfs.json'))) releaseRootfs(dir, sys);
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < ITERATIONS + 1; i++) {
    const keys = Object.keys(tools);
    for (const name of keys.map((_, k) => keys[(k + i) % keys.length])) {
      execFileSync('sync');
      t0 = now();
      const dir = await tools[name]();
      const ms = now() - t0;
      if (i > 0) samples[name].push(ms);
      if (name === 'kapsel snapshots, first container') {
        // the warm path: a second container of the same image while the first one exists
        t0 = now();
        const second = containerDir();
        const p = await prepareRootfs(store, image, second, sys, { kind: 'overlay' });
        const warm = now() - t0;
        if (p.unpackedLayers !== 0) throw new Error('the second container unpacked layers');
        if (i > 0) samples['kapsel snapshots, next container'].push(warm);
        cleanup(second);
      }
      cleanup(dir);
    }
  }
  if (mountsUnder().length > 0) throw new Error(`mounts left: ${mountsUnder().join(', ')}`);
  console.log(`image: ${layers.length} layers, ${mib(gzTotal)} MiB gzip, ${mib(tarTotal)} MiB tar`);
  console.log(`kapsel load of the OCI layout directory (hash + verify every blob): ${loadMs.toFixed(0)} ms`);
  console.log(`${ITERATIONS} measured iterations after 1 warm-up; medians`);
  const base = median(samples['umoci unpack']);
  for (const name of names) {
    const ms = median(samples[name]);
    console.log(`  ${name.padEnd(36)} ${ms.toFixed(ms < 100 ? 1 : 0).padStart(8)} ms  ${(base / ms).toFixed(base / ms < 10 ? 2 : 0).padStart(6)}× umoci's speed  (samples: ${samples[name].map((s) => s.toFixed(1)).join(', ')})`);
  }
  console.log(`versions: node ${process.version}; ${run('umoci', ['--version']).toString().trim()}; kernel ${run('uname', ['-r']).toString().trim()}`);
} finally {
  for (const m of mountsUnder().reverse()) spawnSync('umount', ['-l', m]);
  rmSync(work, { recursive: true, force: true });
}
