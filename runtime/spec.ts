/** `spec`: a default config.json, as `runc spec` writes it (oci/default-spec.ts). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KapselError } from '../common/errors.js';
import { defaultSpec } from '../oci/default-spec.js';

export function writeDefaultSpec(bundle: string, rootless: boolean): void {
  const path = join(bundle, 'config.json');
  try {
    writeFileSync(path, `${JSON.stringify(defaultSpec({ rootless }), null, '\t')}\n`, { flag: 'wx', mode: 0o666 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new KapselError('ERR_EXISTS', `\`${path}\` exists; remove it first`);
    }
    throw new KapselError('ERR_SPEC', `write \`${path}\`: ${(err as Error).message}`, { cause: err });
  }
}
