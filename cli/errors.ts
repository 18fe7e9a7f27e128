/** How errors reach the user: one lowercase line, the hint on the next, and an exit status. */
import { KapselError } from '../common/errors.js';

export function formatError(err: unknown): string {
  if (err instanceof KapselError) {
    let text = err.message;
    // A cause the message does not already quote adds context (e.g. the errno of a failed write).
    const cause = err.cause instanceof Error ? err.cause.message : undefined;
    if (cause !== undefined && !text.includes(cause)) text += `: ${cause}`;
    return err.hint ? `${text}\nhint: ${err.hint}` : text;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof KapselError && err.code === 'ERR_USAGE') return 2;
  return 1;
}
