/**
 * A frozen copy of the built kapsel to measure. Others rebuild `dist/` while the bench runs; a
 * run that straddles a rebuild mixes two builds (or catches one half-written). The copy holds
 * `dist/`, the native stage and `package.json`, links `node_modules` back to the checkout, and
 * gets the `bin/kapsel-runtime` wrapper scripts/postbuild.mjs writes (the bundle's starter when
 * the build made one).
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installBin } from '../../scripts/postbuild.mjs';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
const STAGE = join('native', 'build', 'kapsel-stage');

/** Newest mtime among the built files kapsel-runtime runs, as ISO time; a change means a rebuild. */
export function buildStamp(root = REPO) {
  let newest = 0;
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(js|cjs|cache)$/.test(e.name)) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  try {
    walk(join(root, 'dist'));
    newest = Math.max(newest, statSync(join(root, STAGE)).mtimeMs);
  } catch {
    return 'missing';
  }
  return new Date(newest).toISOString();
}

/** Waits until the build has not changed for `quietMs`; gives up (and says so) after `maxWaitMs`. */
export async function waitForQuietBuild({ quietMs = 20_000, maxWaitMs = 180_000, log = (m) => process.stderr.write(m) } = {}) {
  const t0 = Date.now();
  for (;;) {
    const stamp = buildStamp();
    const age = stamp === 'missing' ? 0 : Date.now() - Date.parse(stamp);
    if (stamp !== 'missing' && age >= quietMs) return stamp;
    if (Date.now() - t0 > maxWaitMs) {
      log(`bench: kapsel's build is still changing (${stamp}); using it anyway\n`);
      return stamp;
    }
    log(`\rbench: waiting for kapsel's build to settle (last change ${Math.round(age / 1000)} s ago)   `);
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

/**
 * Copies the build into `dir` once it is quiet; retries when it changes during the copy.
 * @returns {Promise<{ bin: string, cliJs: string, stamp: string }>}
 */
export async function snapshotKapsel(dir) {
  for (let attempt = 0; ; attempt++) {
    const stamp = await waitForQuietBuild();
    mkdirSync(join(dir, 'native', 'build'), { recursive: true });
    cpSync(join(REPO, 'dist'), join(dir, 'dist'), { recursive: true });
    copyFileSync(join(REPO, STAGE), join(dir, STAGE));
    copyFileSync(join(REPO, 'package.json'), join(dir, 'package.json'));
    if (buildStamp() === stamp || attempt >= 3) {
      symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
      const cliJs = join(dir, 'dist', 'cli', 'kapsel-runtime.js');
      const starter = join(dir, 'dist', 'bundle', 'kapsel-runtime.start.cjs');
      const front = join(REPO, 'native', 'build', 'kapsel-front');
      const bin = installBin(join(dir, 'bin'), 'kapsel-runtime', existsSync(starter) ? starter : cliJs, front);
      return { bin, cliJs, stamp };
    }
  }
}
