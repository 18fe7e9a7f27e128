/**
 * The client side of the monitor's attach socket (frames: native/monitor.c): output to our
 * stdout/stderr live, stdin and window size to the container, the wait status at the end.
 */
import { connect, type Socket } from 'node:net';
import { shortSocketPath } from './socket-path.js';

export interface AttachStreams {
  readonly stdin?: NodeJS.ReadableStream | undefined;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

export interface Attachment {
  /** Resolves with the exit status (code, or 128 + signal), or `create N` failures as N. */
  readonly done: Promise<{ status: number; createFailed: boolean }>;
  resize(rows: number, cols: number): void;
  /** Tells the monitor the container runs (its init pid is in DIR/init.pid). */
  started(): void;
  /** With `handoff`: tells the monitor the exit policy is applied, and closes. */
  finish(): void;
  close(): void;
}

function frame(type: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = type;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

/** Decodes a wait(2) status as the monitor sends it. */
export function exitStatusOf(wait: number): number {
  const sig = wait & 0x7f;
  return sig === 0 ? (wait >> 8) & 0xff : 128 + sig;
}

/** `handoff`: we apply the exit policy ourselves (monitor frame 3), saving the monitor's exec of it. */
export function attachSocket(dir: string, io: AttachStreams, handoff = false): Promise<Attachment> {
  return new Promise((resolveConnect, rejectConnect) => {
    const short = shortSocketPath(dir, 'attach.sock');
    const sock: Socket = connect(short.path);
    let buf = Buffer.alloc(0);
    let finish: (v: { status: number; createFailed: boolean }) => void = () => undefined;
    const done = new Promise<{ status: number; createFailed: boolean }>((r) => { finish = r; });
    let result: { status: number; createFailed: boolean } | undefined;
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 8) {
        const len = buf.readUInt32BE(4);
        if (buf.length < 8 + len) break;
        const type = buf[0];
        const payload = buf.subarray(8, 8 + len);
        buf = buf.subarray(8 + len);
        if (type === 1) io.stdout.write(payload);
        else if (type === 2) io.stderr.write(payload);
        else if (type === 3) {
          const text = payload.toString();
          const m = /^create (\d+)$/.exec(text);
          result = m ? { status: Number(m[1]), createFailed: true } : { status: exitStatusOf(Number(text)), createFailed: false };
          finish(result);
        }
      }
    });
    sock.on('close', () => finish(result ?? { status: -1, createFailed: false }));
    sock.on('error', (err) => rejectConnect(err));
    sock.on('error', () => short.release());
    sock.on('connect', () => {
      short.release();
      if (handoff) sock.write(frame(3, Buffer.alloc(0)));
      if (io.stdin !== undefined) {
        io.stdin.on('data', (d: Buffer | string) => sock.write(frame(0, Buffer.from(d))));
        io.stdin.on('end', () => sock.write(frame(1, Buffer.alloc(0))));
      }
      resolveConnect({
        done,
        resize: (rows, cols) => {
          const p = Buffer.alloc(4);
          p.writeUInt16BE(rows, 0);
          p.writeUInt16BE(cols, 2);
          sock.write(frame(2, p));
        },
        started: () => {
          sock.write(frame(5, Buffer.alloc(0)));
        },
        finish: () => {
          sock.end(frame(4, Buffer.alloc(0)));
        },
        close: () => sock.destroy(),
      });
    });
  });
}
