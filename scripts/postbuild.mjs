// Makes the CLI entry points executable and writes bin/ wrappers with an absolute node path,
// so callers with an empty environment (podman without PATH) can run them.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
mkdirSync(join(root, 'bin'), { recursive: true });
for (const name of ['kapsel-runtime', 'kapsel']) {
  const entry = join(root, 'dist', 'cli', `${name}.js`);
  try {
    chmodSync(entry, 0o755);
  } catch {
    continue;
  }
  writeFileSync(join(root, 'bin', name), `#!/bin/sh\nexec ${process.execPath} ${entry} "$@"\n`, { mode: 0o755 });
}
