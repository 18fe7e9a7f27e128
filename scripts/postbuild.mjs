// Makes the CLI entry points executable, bundles them (scripts/bundle.mjs) and writes bin/
// wrappers with an absolute node path, so callers with an empty environment (podman without
// PATH) can run them.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from './bundle.mjs';

/**
 * The bin/ wrapper of `name`, run from `root`: the bundle's starter when there is one, else the
 * tsc output. kapsel-runtime makes no TLS connection, so it drops NODE_EXTRA_CA_CERTS, which
 * makes Node read and parse every CA certificate at start-up (~80 ms here); `kapsel` (registry
 * pulls) keeps it.
 */
export function wrapperScript(name, entry, nodePath = process.execPath) {
  const env = name === 'kapsel-runtime' ? 'unset NODE_EXTRA_CA_CERTS\n' : '';
  return `#!/bin/sh\n${env}exec ${nodePath} ${entry} "$@"\n`;
}

export async function writeWrappers(root) {
  mkdirSync(join(root, 'bin'), { recursive: true });
  for (const name of ['kapsel-runtime', 'kapsel']) {
    const entry = join(root, 'dist', 'cli', `${name}.js`);
    try {
      chmodSync(entry, 0o755);
    } catch {
      continue;
    }
    const starter = process.env['KAPSEL_NO_BUNDLE'] === '1' ? undefined : await bundle(root, name);
    writeFileSync(join(root, 'bin', name), wrapperScript(name, starter ?? entry), { mode: 0o755 });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await writeWrappers(join(dirname(fileURLToPath(import.meta.url)), '..'));
}
