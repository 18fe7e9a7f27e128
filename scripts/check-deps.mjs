#!/usr/bin/env node
// Dependency direction check (docs/conventions.md "Layers"). No dependencies: reads every .ts
// file of the source tree, finds its imports (static, type-only, re-exports, dynamic) and checks
//   cli → runtime → {namespaces, cgroups, network, images, microvm} → {sys, oci} → common
// plus: peers do not import each other (test files excepted), nothing below cli imports cli/,
// only sys/linux-syscalls.ts, sys/libseccomp.ts and sys/bpf.ts load koffi, and plans (plan.ts, *-plan.ts)
// import neither sys/linux-* nor node:fs.
// Prints `file: imports X (rule)` per violation and exits 1, else a one-line summary.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SKIP_DIRS = new Set(['node_modules', 'dist', '.git', 'native']);
const PEERS = ['namespaces', 'cgroups', 'network', 'images', 'microvm'];
const KOFFI_ALLOWED = new Set(['sys/ffi.ts', 'sys/linux-syscalls.ts', 'sys/libseccomp.ts', 'sys/bpf.ts', 'sys/libzstd.ts', 'sys/libnftables.ts']);

/** Which of our layers each layer may import (its own layer is always allowed). */
const ALLOWED = {
  common: [],
  sys: ['common'],
  oci: ['common', 'sys/constants.ts'],
  ...Object.fromEntries(PEERS.map((p) => [p, ['common', 'sys', 'oci']])),
  runtime: ['common', 'sys', 'oci', ...PEERS],
  engine: ['common', 'sys', 'oci', ...PEERS, 'runtime'], // the docker-like engine behind `kapsel`
  '.': ['common', 'sys', 'oci', ...PEERS, 'runtime', 'engine'], // top-level index.ts: the library API
  examples: ['common', 'sys', 'oci', ...PEERS, 'runtime', 'engine'], // scripts on the library API
  cli: '*',
  'bundle-tests': '*',
};

function listTs(dir, out = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || SKIP_DIRS.has(entry.name)) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) listTs(full, out);
    else if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** Source with comments blanked out; strings and template literals kept (imports live in strings). */
function stripComments(src) {
  let out = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    const n = src[i + 1];
    if (c === '/' && n === '/') {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (c === '/' && n === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      out += src.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\') j++;
        else if (c !== '`' && src[j] === '\n') break;
        j++;
      }
      out += src.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Module specifiers with their line numbers. */
export function findImports(src) {
  const text = stripComments(src);
  const found = [];
  const patterns = [
    // import x from '...', import type { a } from '...', export { a } from '...', export * from '...'
    /(?:^|[\s;{}])(?:import|export)\s+(?:type\s+)?[^'"`;()]*?\bfrom\s*(['"])([^'"\n]+)\1/g,
    // import '...'
    /(?:^|[\s;{}])import\s*(['"])([^'"\n]+)\1/g,
    // import('...')
    /\bimport\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g,
  ];
  for (const re of patterns) {
    for (const m of text.matchAll(re)) {
      const line = text.slice(0, m.index + m[0].length).split('\n').length;
      found.push({ spec: m[2], line });
    }
  }
  return found;
}

/** Repository-relative path (posix) of the file a relative specifier names. */
function resolveRelative(fromRel, spec) {
  const abs = resolve(root, dirname(fromRel), spec);
  let rel = relative(root, abs).split(sep).join('/');
  if (rel.endsWith('.js')) rel = `${rel.slice(0, -3)}.ts`;
  else if (rel.endsWith('.mjs')) rel = `${rel.slice(0, -4)}.mts`;
  else if (!rel.endsWith('.ts') && !rel.endsWith('.json')) {
    rel = existsSync(join(root, `${rel}.ts`)) ? `${rel}.ts` : `${rel}/index.ts`;
  }
  return rel;
}

function layerOf(rel) {
  const slash = rel.indexOf('/');
  return slash < 0 ? '.' : rel.slice(0, slash);
}

function allowedTarget(allowed, target) {
  const layer = layerOf(target);
  return allowed.some((a) => (a.endsWith('.ts') ? a === target : a === layer));
}

function isPlanFile(rel) {
  return /(^|\/|-)plans?\.ts$/.test(rel) && !rel.endsWith('.test.ts');
}

export function checkFile(rel, src) {
  const violations = [];
  const layer = layerOf(rel);
  const isTest = rel.endsWith('.test.ts');
  const allowed = ALLOWED[layer];
  const add = (spec, rule) => violations.push(`${rel}: imports ${spec} (${rule})`);
  if (allowed === undefined) {
    add('-', `\`${layer}/\` is not a known layer: add it to scripts/check-deps.mjs`);
    return violations;
  }
  for (const { spec } of findImports(src)) {
    if (spec === 'koffi' || spec.startsWith('koffi/')) {
      if (!KOFFI_ALLOWED.has(rel)) add(spec, 'only sys/ffi.ts, sys/linux-syscalls.ts, sys/libseccomp.ts, sys/bpf.ts, sys/libzstd.ts and sys/libnftables.ts load koffi');
      continue;
    }
    if (isPlanFile(rel) && (spec === 'node:fs' || spec === 'fs' || spec.startsWith('node:fs/') || spec.startsWith('fs/'))) {
      add(spec, 'plans are pure: no node:fs');
      continue;
    }
    if (!spec.startsWith('.')) continue;
    const target = resolveRelative(rel, spec);
    const targetLayer = layerOf(target);
    if (target.startsWith('..')) {
      add(spec, 'imports from outside the repository');
      continue;
    }
    if (isPlanFile(rel) && /^sys\/(linux-|libseccomp)/.test(target)) {
      add(target, 'plans are pure: no sys/linux-* or sys/libseccomp');
      continue;
    }
    if (targetLayer === layer || allowed === '*') continue;
    if (targetLayer === 'cli') {
      add(target, `only cli/ and bundle-tests/ may import cli/`);
      continue;
    }
    if (PEERS.includes(layer) && PEERS.includes(targetLayer)) {
      if (!isTest) add(target, `peers do not import each other: ${layer} → ${targetLayer}`);
      continue;
    }
    if (!allowedTarget(allowed, target)) {
      const may = allowed.length === 0 ? 'nothing of ours' : `only ${allowed.join(', ')}`;
      add(target, `${layer} may import ${may}`);
    }
  }
  return violations;
}

function main() {
  const files = listTs(root)
    .map((f) => relative(root, f).split(sep).join('/'))
    .sort();
  const violations = files.flatMap((rel) => checkFile(rel, readFileSync(join(root, rel), 'utf8')));
  for (const v of violations) console.log(v);
  if (violations.length > 0) {
    console.log(`dependency check: ${files.length} files, ${violations.length} violation${violations.length === 1 ? '' : 's'}`);
    process.exit(1);
  }
  console.log(`dependency check: ${files.length} files, 0 violations`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
