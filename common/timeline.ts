/**
 * A `--debug` timeline of one process (issue 9: start-up and latency): each mark logs, at debug
 * level, the milliseconds since the previous mark; the first one the time since the process
 * started (Node's own start-up included). Nothing is logged unless the logger logs debug.
 */
import type { Logger } from './log.js';

let lastMarkMs = 0;

/** Milliseconds since the process started; not `performance.now()`, whose first use loads ~10 of Node's modules. */
export function nowMs(): number {
  return process.uptime() * 1000;
}

/** Logs the time since the previous mark (or since `restartTimeline`), measured up to `now`. */
export function mark(log: Logger, what: string, now = nowMs()): void {
  log.debug(`${what} in ${(now - lastMarkMs).toFixed(1)}ms`);
  lastMarkMs = now;
}

/** The next mark measures from now (a new request of a long-lived process, or stages not logged). */
export function restartTimeline(): void {
  lastMarkMs = nowMs();
}
