/**
 * `kapsel exec`: another process in a running container, through the runtime's exec in this
 * process (stdio passthrough). With -t the runtime sends a pty master over a console socket we
 * listen on, and we relay it to our terminal.
 */
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KapselError } from '../common/errors.js';
import { execInContainer } from '../runtime/exec.js';
import type { EngineContext } from './context.js';
import { deriveState } from './status.js';

export interface ExecFlags {
  readonly args: readonly string[];
  readonly interactive?: boolean;
  readonly tty?: boolean;
  readonly detach?: boolean;
  readonly env?: readonly string[];
  readonly user?: string | undefined;
  readonly workdir?: string | undefined;
  /** The terminal size for -t (the caller's window), set before the process starts. */
  readonly consoleSize?: { readonly height: number; readonly width: number } | undefined;
}

export interface TtyIo {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  /** Called with a function that sets the pty's window size. */
  readonly onResize?: (set: (rows: number, cols: number) => void) => void;
}

export async function execContainer(ctx: EngineContext, ref: string, f: ExecFlags, tty?: TtyIo): Promise<number> {
  const id = ctx.containers.resolve(ref);
  const rec = ctx.containers.read(id);
  if (deriveState(ctx, rec).status !== 'running') throw new KapselError('ERR_STATE', `container ${rec.name} is not running`);
  const base = { id, args: f.args, env: f.env ?? [], ...(f.user !== undefined && { user: f.user }), ...(f.workdir !== undefined && { cwd: f.workdir }) };
  if (f.tty !== true || f.detach === true) {
    return execInContainer(ctx.sys, ctx.runtime, { ...base, detach: f.detach === true }, ctx.log);
  }
  const dir = mkdtempSync(join(tmpdir(), 'kapsel-exec-'));
  const sockPath = join(dir, 'console.sock');
  const listener = ctx.sys.listenUnix(sockPath);
  try {
    const done = execInContainer(ctx.sys, ctx.runtime, { ...base, tty: true, consoleSocket: sockPath, ...(f.consoleSize !== undefined && { consoleSize: f.consoleSize }) }, ctx.log);
    // the runtime connected and sent the master before it started waiting
    const conn = ctx.sys.accept(listener);
    const msg = ctx.sys.recvmsg(conn, 256, 1);
    ctx.sys.close(conn);
    const master = msg.fds[0];
    if (master === undefined) throw new KapselError('ERR_CONSOLE', 'exec: no terminal received from the runtime');
    const out = createReadStream('', { fd: master, autoClose: false });
    out.on('error', () => undefined); // EIO once the process closed the terminal
    out.pipe(tty?.stdout ?? process.stdout, { end: false });
    const input = createWriteStream('', { fd: master, autoClose: false });
    input.on('error', () => undefined);
    if (f.interactive === true) tty?.stdin.pipe(input);
    tty?.onResize?.((rows, cols) => {
      const ws = Buffer.alloc(8);
      ws.writeUInt16LE(rows, 0);
      ws.writeUInt16LE(cols, 2);
      try {
        ctx.sys.ioctlBuffer(master, 0x5414 /* TIOCSWINSZ */, ws);
      } catch {
        // closed
      }
    });
    const status = await done;
    await new Promise((r) => setTimeout(r, 50));
    tty?.stdin.unpipe(input);
    // destroy() closes the master itself (also with autoClose: false), after any read still
    // pending in the thread pool: closing it here as well raced with that close (EBADF, or
    // worse, closing an fd number reused in between)
    await new Promise<void>((resolve) => {
      out.once('close', () => resolve());
      out.destroy();
    });
    return status;
  } finally {
    ctx.sys.close(listener);
    rmSync(dir, { recursive: true, force: true });
  }
}
