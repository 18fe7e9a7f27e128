/**
 * A Syscalls fake for unit tests: records every call in order and returns scripted results.
 * No FFI is loaded. `results` maps a method name to a value or a function of the arguments;
 * a method without an entry returns undefined (or a fresh fake fd for fd-returning calls).
 */
import { SyscallError } from './syscall-error.js';
import { errnoNumber } from './errno.js';
import type { Syscalls } from './syscalls.js';

export interface RecordedCall {
  readonly name: keyof Syscalls;
  readonly args: readonly unknown[];
}

type Result = unknown | ((...args: unknown[]) => unknown);

const FD_RETURNING = new Set<string>(['open', 'openat2', 'fsmount', 'openTree', 'pidfdOpen', 'connectUnix', 'socket']);

export interface RecordingSyscalls extends Syscalls {
  readonly calls: RecordedCall[];
  /** Make the next calls of `name` whose first argument matches fail with errno `code` (e.g. 'EPERM'). */
  failOn(name: keyof Syscalls, code: string, match?: (args: readonly unknown[]) => boolean): void;
  /** Names of the calls made, in order. */
  names(): string[];
}

export function recordingSyscalls(results: Partial<Record<keyof Syscalls, Result>> = {}): RecordingSyscalls {
  const calls: RecordedCall[] = [];
  const failures: { name: string; errno: number; match: (args: readonly unknown[]) => boolean }[] = [];
  let nextFd = 100;
  const self = {
    calls,
    failOn(name: keyof Syscalls, code: string, match: (args: readonly unknown[]) => boolean = () => true): void {
      failures.push({ name, errno: errnoNumber(code) ?? 1, match });
    },
    names(): string[] {
      return calls.map((c) => c.name);
    },
  };
  return new Proxy(self, {
    get(target, prop, receiver) {
      if (prop in target) return Reflect.get(target, prop, receiver);
      const name = String(prop) as keyof Syscalls;
      return (...args: unknown[]) => {
        calls.push({ name, args });
        const failure = failures.find((f) => f.name === name && f.match(args));
        if (failure) throw new SyscallError(name, failure.errno, `${name} ${String(args[0] ?? '')}`);
        const result = results[name];
        if (typeof result === 'function') return (result as (...a: unknown[]) => unknown)(...args);
        if (result !== undefined) return result;
        if (FD_RETURNING.has(name)) return nextFd++;
        if (name === 'socketpair') return [nextFd++, nextFd++];
        return undefined;
      };
    },
  }) as unknown as RecordingSyscalls;
}
