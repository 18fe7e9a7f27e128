// Start-up of a bundled kapsel binary (scripts/bundle.mjs): compiles the bundle next to this file
// with the V8 code cache made at build time, so that no function is parsed or compiled at run
// time. The cache is used only when its first 20 bytes are the build id the bundle ends with
// (V8 itself compares only the source's length) and V8 accepts it (same V8 version and flags);
// else the bundle is simply compiled as usual. Plain CommonJS: nothing to load before it.
'use strict';
const { readFileSync } = require('node:fs');
const { dirname } = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const file = __filename.replace(/\.start\.cjs$/, '.cjs');
const source = readFileSync(file, 'utf8');
let cachedData;
try {
  const cache = readFileSync(`${file}.cache`);
  const id = /\/\/# kapsel-bundle-id=([0-9a-f]{40})\n$/.exec(source.slice(-80));
  cachedData = id !== null && cache.subarray(0, 20).toString('hex') === id[1] ? cache.subarray(20) : undefined;
} catch {
  cachedData = undefined;
}
const script = new vm.Script(Module.wrap(source), {
  filename: file,
  cachedData,
  importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
});
const mod = new Module(file, module);
mod.filename = file;
mod.paths = Module._nodeModulePaths(dirname(file));
script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, dirname(file));
