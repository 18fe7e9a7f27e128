/**
 * The `Kapsel` class: the docker-like engine as a typed API (`import { Kapsel } from 'kapsel'`)
 * for scripts that run containers and manage their limits. Containers started here are
 * detached and supervised by their monitors exactly like `kapsel run -d`; the CLI sees them.
 */
import type { Logger } from '../common/log.js';
import { silentLogger } from '../common/log.js';
import type { Syscalls } from '../sys/syscalls.js';
import { engineContext, type EngineContext } from './context.js';
import type { RunFlags } from './run-config.js';
import { killByRef, removeContainer, runContainer, startByRef, stopContainer, waitContainer } from './lifecycle.js';
import { inspectContainer, listContainers, type PsRow } from './inspect.js';
import { execContainer, type ExecFlags } from './exec.js';
import { sampleStats, topContainer, updateLimits, type StatsRow, type UpdateRequest } from './resources.js';
import { streamLogs, type LogLine, type LogsOptions } from './logs.js';

export interface KapselOptions {
  /** Image store and containers (default /var/lib/kapsel). */
  readonly storeRoot?: string;
  /** Runtime state (default /run/kapsel). */
  readonly stateRoot?: string;
  /** linuxSyscalls() unless given. */
  readonly syscalls?: Syscalls;
  readonly logger?: Logger;
}

export type RunRequest = Omit<RunFlags, 'image' | 'args' | 'detach'>;

export class Kapsel {
  private constructor(private readonly ctx: EngineContext) {}

  static async open(opts: KapselOptions = {}): Promise<Kapsel> {
    const sys = opts.syscalls ?? (await import('../sys/linux-syscalls.js')).linuxSyscalls();
    return new Kapsel(engineContext(sys, opts.logger ?? silentLogger, { storeRoot: opts.storeRoot, stateRoot: opts.stateRoot }));
  }

  /** Starts a detached container (like `kapsel run -d`); returns its id. */
  async run(image: string, args: readonly string[] = [], opts: RunRequest = {}): Promise<string> {
    return (await runContainer(this.ctx, { ...opts, image, args, detach: true })).id;
  }

  list(opts: { all?: boolean } = {}): PsRow[] {
    return listContainers(this.ctx, opts.all === true);
  }

  inspect(ref: string): Record<string, unknown> {
    return inspectContainer(this.ctx, ref);
  }

  /** Runs a command in the container with this process's stdio; resolves with its exit status. */
  exec(ref: string, args: readonly string[], opts: Omit<ExecFlags, 'args' | 'tty'> = {}): Promise<number> {
    return execContainer(this.ctx, ref, { ...opts, args });
  }

  /** Resource usage every `intervalMs` until the container stops or `signal` aborts. */
  async *stats(ref: string, opts: { intervalMs?: number; signal?: AbortSignal } = {}): AsyncGenerator<StatsRow> {
    for (;;) {
      if (opts.signal?.aborted) return;
      let rows: StatsRow[];
      try {
        rows = await sampleStats(this.ctx, [ref], opts.intervalMs ?? 1000);
      } catch {
        return; // stopped
      }
      const row = rows[0];
      if (row === undefined) return;
      yield row;
    }
  }

  /** Live limits: memory, memorySwap, cpus, cpuShares, cpusetCpus, pidsLimit (docker's units). */
  async update(ref: string, limits: UpdateRequest): Promise<void> {
    await updateLimits(this.ctx, ref, limits);
  }

  top(ref: string, psArgs: readonly string[] = []): string {
    return topContainer(this.ctx, ref, psArgs);
  }

  async logs(ref: string, opts: Omit<LogsOptions, 'follow'> = {}): Promise<LogLine[]> {
    const out: LogLine[] = [];
    await streamLogs(this.ctx, ref, opts, (l) => out.push(l));
    return out;
  }

  async start(ref: string): Promise<void> {
    await startByRef(this.ctx, ref);
  }

  async stop(ref: string, opts: { timeoutS?: number } = {}): Promise<void> {
    await stopContainer(this.ctx, ref, opts.timeoutS);
  }

  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    await killByRef(this.ctx, ref, signal);
  }

  /** Blocks until the container exits; resolves with its exit code. */
  wait(ref: string): Promise<number> {
    return waitContainer(this.ctx, ref);
  }

  async remove(ref: string, opts: { force?: boolean } = {}): Promise<void> {
    await removeContainer(this.ctx, ref, { force: opts.force === true });
  }
}
