// Makes the CLI entry points executable, bundles them (scripts/bundle.mjs) and writes bin/:
// absolute node paths, so callers with an empty environment (podman without PATH) can run them.
//
// bin/kapsel-runtime is native/build/kapsel-front (native/front.c) with bin/kapsel-runtime.conf
// naming node and the entry; without the native front (not built) it is a shell wrapper.
import { chmodSync, copyFileSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from './bundle.mjs';

/**
 * A shell wrapper that runs `entry`. NODE_EXTRA_CA_CERTS makes Node read and parse every CA
 * certificate at start-up (~80 ms here). kapsel-runtime makes no TLS connection and drops it;
 * `kapsel` hands it on as KAPSEL_EXTRA_CA_CERTS, which the registry client adds to the trusted
 * roots when it first connects over TLS (images/registry-http.ts), so only pulls pay for it.
 */
export function wrapperScript(name, entry, nodePath = process.execPath) {
  const env = name === 'kapsel-runtime'
    ? 'unset NODE_EXTRA_CA_CERTS\n'
    : 'if [ -n "${NODE_EXTRA_CA_CERTS-}" ]; then KAPSEL_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS; export KAPSEL_EXTRA_CA_CERTS; unset NODE_EXTRA_CA_CERTS; fi\n';
  return `#!/bin/sh\n${env}exec ${nodePath} ${entry} "$@"\n`;
}

/** Writes `binDir/name` for `entry`: the native front when `front` exists, else a wrapper. */
export function installBin(binDir, name, entry, front) {
  mkdirSync(binDir, { recursive: true });
  const bin = join(binDir, name);
  const tmp = `${bin}.tmp-${process.pid}`;
  if (front !== undefined && existsSync(front)) {
    writeFileSync(`${bin}.conf`, `${process.execPath}\n${entry}\n`);
    copyFileSync(front, tmp);
    chmodSync(tmp, 0o755);
  } else {
    writeFileSync(tmp, wrapperScript(name, entry), { mode: 0o755 });
  }
  renameSync(tmp, bin); // a running bin/ (ETXTBSY) is replaced, not written
  return bin;
}

export async function writeBins(root) {
  for (const name of ['kapsel-runtime', 'kapsel']) {
    const entry = join(root, 'dist', 'cli', `${name}.js`);
    try {
      chmodSync(entry, 0o755);
    } catch {
      continue;
    }
    const starter = process.env['KAPSEL_NO_BUNDLE'] === '1' ? undefined : await bundle(root, name);
    const front = name === 'kapsel-runtime' ? join(root, 'native', 'build', 'kapsel-front') : undefined;
    installBin(join(root, 'bin'), name, starter ?? entry, front);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await writeBins(join(dirname(fileURLToPath(import.meta.url)), '..'));
}
