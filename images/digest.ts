/**
 * sha256 content digests (image-spec descriptor.md "Digests"), the only algorithm the store
 * accepts. A digest that reaches a file path is checked against `sha256:<64 lowercase hex>`
 * first, so it can never name anything but a blob.
 */

import { createHash } from 'node:crypto';
import { KapselError } from '../common/errors.js';

const SHA256 = /^sha256:[0-9a-f]{64}$/;

export function isSha256Digest(digest: string): boolean {
  return SHA256.test(digest);
}

/** Throws ERR_IMAGE_DIGEST unless `digest` is `sha256:` and 64 lowercase hex digits. */
export function checkSha256Digest(digest: string, what = 'digest'): void {
  if (SHA256.test(digest)) return;
  const reason = digest.includes(':') && !digest.startsWith('sha256:')
    ? `algorithm \`${digest.slice(0, digest.indexOf(':'))}\` is not supported (only sha256)`
    : 'must be sha256: followed by 64 lowercase hex digits';
  throw new KapselError('ERR_IMAGE_DIGEST', `${what} \`${digest}\`: ${reason}`);
}

/** The hex part of a checked sha256 digest. */
export function digestHex(digest: string): string {
  checkSha256Digest(digest);
  return digest.slice('sha256:'.length);
}

export function sha256Digest(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}
