/**
 * The error model shared by every layer (see docs/conventions.md).
 *
 * Every error kapsel raises is a KapselError with a stable machine-readable `code`
 * (`ERR_CGROUP_WRITE`, `ERR_CONFIG_INVALID`, ...), a lowercase message that names the
 * operation and its object, an optional `hint` for the user, and the standard `cause`.
 * Only the CLI formats errors and maps them to exit codes.
 */

export interface KapselErrorOptions {
  readonly hint?: string;
  readonly cause?: unknown;
}

export class KapselError extends Error {
  readonly code: string;
  readonly hint: string | undefined;

  constructor(code: string, message: string, options: KapselErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KapselError';
    this.code = code;
    this.hint = options.hint;
  }
}

/** A caller-visible problem with input (config, arguments, state): never a kapsel bug. */
export class UsageError extends KapselError {
  constructor(message: string, options: KapselErrorOptions = {}) {
    super('ERR_USAGE', message, options);
    this.name = 'UsageError';
  }
}

/** The container named does not exist. The message follows runc's wording, which clients match. */
export class NotFoundError extends KapselError {
  constructor(what: string, options: KapselErrorOptions = {}) {
    super('ERR_NOT_FOUND', `${what} does not exist`, options);
    this.name = 'NotFoundError';
  }
}

/** Wraps any thrown value so the caller can rely on `.message`. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Adds context to an error while keeping the original as `cause`. */
export function wrapError(code: string, message: string, cause: unknown): KapselError {
  return new KapselError(code, `${message}: ${errorMessage(cause)}`, { cause });
}
