/**
 * Lifecycle hooks (runtime-spec config.md "POSIX-platform Hooks", runtime.md "Lifecycle"):
 * each hook runs with the container state JSON on stdin, its own env and an optional timeout.
 * A failing prestart/createRuntime/createContainer/startContainer hook fails the operation;
 * poststart and poststop failures are reported as warnings by the caller.
 */
import { KapselError } from '../common/errors.js';
import type { Hook, State } from '../oci/runtime-spec.js';

export function runHook(kind: string, hook: Hook, state: State): void {
  const args = hook.args ?? [hook.path];
  // node:child_process is loaded here, not at import: `state`, `start` and `delete` import this
  // module and most containers have no hooks (loading it costs ~5 ms, issue 9)
  const { spawnSync } = process.getBuiltinModule('node:child_process');
  const result = spawnSync(hook.path, args.slice(1), {
    argv0: args[0] ?? hook.path,
    env: Object.fromEntries((hook.env ?? []).map((e) => {
      const eq = e.indexOf('=');
      return eq < 0 ? [e, ''] : [e.slice(0, eq), e.slice(eq + 1)];
    })),
    input: JSON.stringify(state),
    stdio: ['pipe', 'inherit', 'pipe'],
    ...(hook.timeout !== undefined ? { timeout: hook.timeout * 1000, killSignal: 'SIGKILL' as const } : {}),
  });
  // A hook that exits without reading its stdin makes writing the state fail with EPIPE: that
  // is the hook's choice, not an error; its exit status decides.
  const code = (result.error as NodeJS.ErrnoException | undefined)?.code;
  if (result.error !== undefined && code !== 'EPIPE') {
    if (code === 'ETIMEDOUT') throw new KapselError('ERR_HOOK', `${kind} hook \`${hook.path}\` timed out after ${hook.timeout}s`);
    throw new KapselError('ERR_HOOK', `${kind} hook \`${hook.path}\`: ${result.error.message}`, { cause: result.error });
  }
  if (result.status !== 0) {
    const stderr = result.stderr?.toString('utf8').trim() ?? '';
    const how = result.signal !== null ? `was killed by ${result.signal}` : `exited with status ${result.status}`;
    throw new KapselError('ERR_HOOK', `${kind} hook \`${hook.path}\` ${how}${stderr ? `: ${stderr}` : ''}`);
  }
}

export function runHooks(kind: string, hooks: readonly Hook[] | undefined, state: State): void {
  for (const hook of hooks ?? []) runHook(kind, hook, state);
}

/**
 * poststart and poststop: a failing hook is a warning and the rest still run (runtime-spec
 * runtime.md "Lifecycle" steps 10 and 13).
 */
export function runHooksWarnOnly(kind: string, hooks: readonly Hook[] | undefined, state: State, warn: (msg: string) => void): void {
  for (const hook of hooks ?? []) {
    try {
      runHook(kind, hook, state);
    } catch (err) {
      warn((err as Error).message);
    }
  }
}
