// Start-up of a bundled kapsel binary (scripts/bundle.mjs): compiles the bundle next to this file
// with the V8 code cache made at build time, so that no function is parsed or compiled at run
// time. V8 rejects a cache that does not match the source, V8 version or flags; then the bundle
// is simply compiled as usual. Plain CommonJS: nothing to load before it.
'use strict';
const { readFileSync } = require('node:fs');
const { dirname } = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const file = __filename.replace(/\.start\.cjs$/, '.cjs');
let cachedData;
try {
  cachedData = readFileSync(`${file}.cache`);
} catch {
  cachedData = undefined;
}
const script = new vm.Script(Module.wrap(readFileSync(file, 'utf8')), {
  filename: file,
  cachedData,
  importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
});
const mod = new Module(file, module);
mod.filename = file;
mod.paths = Module._nodeModulePaths(dirname(file));
script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, dirname(file));
