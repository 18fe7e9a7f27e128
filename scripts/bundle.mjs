// One bundled CommonJS file per binary, and its V8 code cache (issue 9: start-up time).
//
// dist/bundle/<name>.cjs is esbuild's bundle of dist/cli/<name>.js (what tsc built): the whole
// module graph in one file, so a run reads one file instead of resolving and loading ~60 ES
// modules. koffi (a native addon) and yargs (loaded only for help and unusual command lines)
// stay outside and are required from node_modules. `import.meta.url` has one user,
// common/install-paths.ts, which finds native/build/ and dist/ relative to its own file: the
// bundle gives it that file's URL in dist/, so dist/ and native/build/ keep their relative places.
//
// dist/bundle/<name>.cjs.cache is the bundle's build id and V8's code cache of it with every
// function compiled (made with --no-lazy, and the flag put back before the cache is written: V8
// only accepts a cache made under the same flags). dist/bundle/<name>.start.cjs (scripts/code-cache-loader.cjs)
// runs the bundle with it.
//
// esbuild is a devDependency: without it (npm ci --omit=dev) nothing is bundled and the bin/
// wrappers run dist/cli/<name>.js as before.
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import vm from 'node:vm';
import v8 from 'node:v8';

const IMPORT_META_URL_FILE = '../common/install-paths.js';

async function loadEsbuild(root) {
  try {
    return createRequire(join(root, 'package.json'))('esbuild');
  } catch {
    return undefined;
  }
}

/** Builds dist/bundle/<name>.cjs, its cache and starter; returns the starter's path or undefined. */
export async function bundle(root, name) {
  const esbuild = await loadEsbuild(root);
  const entry = join(root, 'dist', 'cli', `${name}.js`);
  if (esbuild === undefined || !existsSync(entry)) return undefined;
  const dir = join(root, 'dist', 'bundle');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `${name}.cjs`);
  // written under temporary names and renamed: a kapsel-runtime running meanwhile reads either
  // the old files or the new ones
  const tmp = `${out}.tmp-${process.pid}`;
  await esbuild.build({
    entryPoints: [entry],
    outfile: tmp,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['koffi', 'yargs'],
    define: { 'import.meta.url': '__kapsel_module_url' },
    banner: { js: `var __kapsel_module_url = require("node:url").pathToFileURL(require("node:path").join(__dirname, ${JSON.stringify(IMPORT_META_URL_FILE)})).href;` },
    logLevel: 'warning',
  });
  // the entry's `#!` line is kept by esbuild; the bundle is compiled as a function body
  const code = readFileSync(tmp, 'utf8').replace(/^#![^\n]*\n/, '');
  // vm.Script has no module loader for import() here (Node 20): every import must be bundled
  // or a require() of an external
  const dynamic = /\bimport\((?!\))/.exec(code);
  if (dynamic !== null) throw new Error(`bundle ${name}: a dynamic import() of an external module is left at offset ${dynamic.index}`);
  // V8 checks a cache against the source's length only: the bundle ends with its build id (the
  // SHA-1 of its code) and the cache starts with the same 20 bytes; the starter compares them
  // before it hands the rest to V8 (no hashing at start-up)
  const id = createHash('sha1').update(code).digest();
  const source = `${code}\n//# kapsel-bundle-id=${id.toString('hex')}\n`;
  writeFileSync(tmp, source);
  writeFileSync(`${tmp}.cache`, Buffer.concat([id, eagerCodeCache(source, out)]));
  const starter = join(dir, `${name}.start.cjs`);
  copyFileSync(join(root, 'scripts', 'code-cache-loader.cjs'), `${tmp}.start`);
  renameSync(`${tmp}.cache`, `${out}.cache`);
  renameSync(tmp, out);
  renameSync(`${tmp}.start`, starter);
  return starter;
}

function eagerCodeCache(source, filename) {
  v8.setFlagsFromString('--no-lazy');
  let script;
  try {
    script = new vm.Script(createRequire(filename)('node:module').wrap(source), { filename });
  } finally {
    v8.setFlagsFromString('--lazy');
  }
  return script.createCachedData();
}
