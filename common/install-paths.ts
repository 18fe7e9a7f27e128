/**
 * Where kapsel's own files are: the native helpers that `make -C native` built and the compiled
 * tree. This is the one module that reads `import.meta.url`: scripts/bundle.mjs maps it to this
 * file's place in dist/ (dist/common/install-paths.js), so the paths are the same bundled or not.
 */
import { fileURLToPath } from 'node:url';

/** A binary of native/ (`<root>/native/build/<name>`). */
export function nativeBinaryPath(name: string): string {
  return fileURLToPath(new URL(`../../native/build/${name}`, import.meta.url));
}

/** A file of the compiled tree (`<root>/dist/<rel>`). */
export function distPath(rel: string): string {
  return fileURLToPath(new URL(`../${rel}`, import.meta.url));
}
