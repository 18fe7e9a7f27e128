/**
 * The runtime's log: `--log FILE` and `--log-format text|json`. JSON lines carry
 * {"level","msg","time"} with an RFC 3339 time, which containerd's runc shim and podman read
 * (the last `error` line is what their user sees).
 */
import { appendFileSync } from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface LoggerOptions {
  readonly file?: string | undefined;
  readonly format?: 'text' | 'json';
  readonly debug?: boolean;
}

export function formatLine(level: LogLevel, msg: string, format: 'text' | 'json', now = new Date()): string {
  const time = now.toISOString();
  if (format === 'json') return `${JSON.stringify({ level, msg, time })}\n`;
  return `time="${time}" level=${level} msg=${JSON.stringify(msg)}\n`;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const format = opts.format ?? 'text';
  const emit = (level: LogLevel, msg: string): void => {
    if (level === 'debug' && !opts.debug) return;
    const line = formatLine(level, msg, format);
    if (opts.file !== undefined && opts.file !== '') {
      try {
        appendFileSync(opts.file, line);
        return;
      } catch {
        // fall through to stderr when the log file cannot be written
      }
    }
    if (level !== 'error') process.stderr.write(line);
  };
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warning', m),
    error: (m) => emit('error', m),
  };
}

/** A logger that drops everything (library use and tests). */
export const silentLogger: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
