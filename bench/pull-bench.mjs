#!/usr/bin/env node
/**
 * Pull throughput from a local registry: `kapsel pull` next to `skopeo copy docker://… oci:DIR`,
 * in the same run, alternating.
 *
 *   node bench/pull-bench.mjs [--iterations 5] [--no-write]
 *
 * Needs root (kapsel's store lock), docker-registry, skopeo, GNU tar, gzip, /usr/bin/time and a
 * built kapsel (`npm run build`). The image is made here: one gzip -1 layer per host directory
 * (real files: headers, compilers, Go's tree, Python), an OCI config and manifest, pushed with
 * skopeo to Debian's docker-registry on 127.0.0.1 at a free port (bundle-tests/registry-fixture.ts).
 * Each iteration pulls the whole image once with each tool into a fresh, empty destination (the
 * order rotating), then deletes it; both verify every blob's digest and write it to disk. The
 * registry serves from the page cache after the first pull, so this measures the client: HTTP,
 * hashing, writing. Appends (or replaces) the "Pull" section of bench/RESULTS.md.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const repo = new URL('..', import.meta.url).pathname;
const { startRegistry } = await import(new URL('dist/bundle-tests/registry-fixture.js', `file://${repo}`));
const { values } = parseArgs({ options: { iterations: { type: 'string', default: '5' }, 'no-write': { type: 'boolean', default: false } } });
const ITERATIONS = Number(values.iterations);
const SOURCES = ['usr/include', 'usr/lib/gcc', 'usr/lib/python3.11', 'usr/libexec', 'usr/lib/go-1.19'].filter((d) => existsSync(`/${d}`));
const KAPSEL = join(repo, 'bin', 'kapsel');

const sh = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr?.toString() ?? r.error?.message}`);
  return r.stdout.toString();
};
const fileDigest = (path) => new Promise((resolve, reject) => {
  const h = createHash('sha256');
  createReadStream(path).on('data', (c) => h.update(c)).on('end', () => resolve(`sha256:${h.digest('hex')}`)).on('error', reject);
});
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const fmt = (x) => x.toFixed(2);

const work = mkdtempSync(join(tmpdir(), 'kapsel-pull-bench-'));
let registry;
try {
  // 1. the image: one gzip -1 layer per directory
  const layout = join(work, 'layout');
  const blobs = join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const layers = [];
  for (const dir of SOURCES) {
    const file = join(work, 'layer.tar.gz');
    const tarred = join(work, 'layer.tar');
    sh('tar', ['--sort=name', '--numeric-owner', '-C', '/', '-cf', tarred, dir]);
    const diffId = await fileDigest(tarred);
    sh('sh', ['-c', `gzip -1 -n -c "${tarred}" > "${file}"`]);
    rmSync(tarred);
    const digest = await fileDigest(file);
    const size = Number(sh('stat', ['-c', '%s', file]).trim());
    sh('mv', [file, join(blobs, digest.slice(7))]);
    layers.push({ digest, size, diffId, dir });
  }
  const put = (text) => {
    const data = Buffer.from(text);
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    writeFileSync(join(blobs, digest.slice(7)), data);
    return { digest, size: data.length };
  };
  const config = put(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } }));
  const manifest = put(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
  }));
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }] }));
  const totalBytes = layers.reduce((a, l) => a + l.size, 0) + config.size + manifest.size;
  console.error(`image: ${layers.length} layers, ${(totalBytes / 1e6).toFixed(1)} MB compressed (${SOURCES.join(', ')})`);

  // 2. a registry holding it
  registry = await startRegistry();
  const ref = `${registry.host}/bench/big:v1`;
  sh('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${ref}`]);
  rmSync(layout, { recursive: true, force: true });

  // 3. alternate: kapsel pull into a fresh store, skopeo copy into a fresh OCI layout
  const tools = {
    kapsel: (dest) => [KAPSEL, ['pull', '-q', ref], { ...process.env, KAPSEL_STORE: dest, KAPSEL_AUTH_FILE: join(work, 'none.json'), DOCKER_CONFIG: join(work, 'no-docker') }],
    skopeo: (dest) => ['skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${dest}:v1`], process.env],
  };
  const startup = { kapsel: () => [KAPSEL, ['--version'], process.env], skopeo: () => ['skopeo', ['--version'], process.env] };
  const startupSamples = { kapsel: [], skopeo: [] };
  const samples = { kapsel: [], skopeo: [] };
  const cpu = { kapsel: [], skopeo: [] };
  const names = Object.keys(tools);
  for (let i = -1; i < ITERATIONS; i++) {
    const order = i % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const dest = join(work, `dest-${name}`);
      rmSync(dest, { recursive: true, force: true });
      const [cmd, args, env] = tools[name](dest);
      const timeFile = join(work, 'time');
      const start = process.hrtime.bigint();
      sh('/usr/bin/time', ['-o', timeFile, '-f', '%U %S', cmd, ...args], { env });
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const [user, sys] = readFileSync(timeFile, 'utf8').trim().split(/\s+/).slice(-2).map(Number);
      rmSync(dest, { recursive: true, force: true });
      if (i < 0) continue; // warm-up: the registry's files reach the page cache
      const [scmd, sargs, senv] = startup[name]();
      const startupStart = process.hrtime.bigint();
      sh(scmd, sargs, { env: senv });
      startupSamples[name].push(Number(process.hrtime.bigint() - startupStart) / 1e9);
      samples[name].push(seconds);
      cpu[name].push(user + sys);
      console.error(`${i + 1}/${ITERATIONS} ${name}: ${fmt(seconds)} s wall, ${fmt(user + sys)} s cpu`);
    }
  }

  // 4. report
  const row = (name) => {
    const s = samples[name];
    const m = median(s);
    return `| ${name === 'kapsel' ? '`kapsel pull`' : '`skopeo copy docker:// oci:`'} | ${fmt(m)} | ${fmt(Math.min(...s))}–${fmt(Math.max(...s))} | ${(totalBytes / 1e6 / m).toFixed(0)} | ${fmt(median(cpu[name]))} | ${fmt(median(startupSamples[name]))} |`;
  };
  const ratio = median(samples.kapsel) / median(samples.skopeo);
  const skopeoVersion = sh('skopeo', ['--version']).trim();
  const registryVersion = sh('/usr/bin/docker-registry', ['--version']).trim();
  const section = [
    '## Pull from a local registry (bench/pull-bench.mjs)',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)}, ${ITERATIONS} iterations after one warm-up, order alternating; ${registryVersion} on 127.0.0.1 (plain HTTP), ${skopeoVersion}.`,
    `Image: ${layers.length} gzip layers from ${SOURCES.map((s) => `/${s}`).join(', ')}, ${(totalBytes / 1e6).toFixed(1)} MB to transfer. Each sample pulls everything into an empty destination.`,
    '',
    '| client | median s | min–max s | MB/s (median) | CPU s (user+sys, median) | start-up s (`--version`, median) |',
    '|---|---|---|---|---|---|',
    row('kapsel'),
    row('skopeo'),
    '',
    `kapsel / skopeo wall-time ratio (medians): **${ratio.toFixed(2)}**; without each tool's start-up (its \`--version\` time, measured in the same iterations): **${((median(samples.kapsel) - median(startupSamples.kapsel)) / (median(samples.skopeo) - median(startupSamples.skopeo))).toFixed(2)}**. Both verify each blob's digest and write it to disk; kapsel also fsyncs each blob before renaming it into the store.`,
    '',
  ].join('\n');
  console.log(section);
  if (!values['no-write']) {
    const resultsFile = join(repo, 'bench', 'RESULTS.md');
    const old = existsSync(resultsFile) ? readFileSync(resultsFile, 'utf8') : '';
    const start = old.indexOf('## Pull from a local registry');
    let next = start < 0 ? -1 : old.indexOf('\n## ', start + 3);
    const updated = start < 0 ? `${old.replace(/\n*$/, '\n\n')}${section}` : `${old.slice(0, start)}${section}${next < 0 ? '' : old.slice(next + 1)}`;
    writeFileSync(resultsFile, updated);
    console.error(`wrote the Pull section of ${resultsFile}`);
  }
} finally {
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
}
