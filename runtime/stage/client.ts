/**
 * Starts the native stage and speaks its protocol (runtime/stage/protocol.ts). The stage runs
 * from a sealed memfd copy of native/build/kapsel-stage, so a container process that reaches it
 * through /proc/<pid>/exe cannot overwrite the host binary (CVE-2019-5736).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { nativeBinaryPath } from '../../common/install-paths.js';
import { AF_UNIX, SOCK_CLOEXEC, SOCK_SEQPACKET } from '../../sys/constants.js';
import type { Syscalls } from '../../sys/syscalls.js';
import { SyscallError } from '../../sys/syscall-error.js';
import { KapselError } from '../../common/errors.js';
import { decodeError, decodeMessage, MessageWriter, MsgType, Tag, type StageMessage } from './protocol.js';

const MFD_CLOEXEC = 0x1;
const MFD_ALLOW_SEALING = 0x2;
const MFD_EXEC = 0x10;
const F_SEAL_SEAL = 0x1;
const F_SEAL_SHRINK = 0x2;
const F_SEAL_GROW = 0x4;
const F_SEAL_WRITE = 0x8;

export function stageBinaryPath(): string {
  return process.env['KAPSEL_STAGE'] ?? nativeBinaryPath('kapsel-stage');
}


let sealedCopy: number | undefined;

/**
 * A sealed, executable memfd holding the stage binary, made once per process (exported for the
 * engine's monitor, which execs the stage from it: StageProcess.adopt).
 */
export function sealedStage(sys: Syscalls): number {
  if (sealedCopy !== undefined) return sealedCopy;
  const bytes = readFileSync(stageBinaryPath());
  let fd: number;
  try {
    fd = sys.memfdCreate('kapsel-stage', MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  } catch (err) {
    // Kernels before 6.3 do not know MFD_EXEC; their memfds are executable anyway.
    if (!(err instanceof SyscallError && err.code === 'EINVAL')) throw err;
    fd = sys.memfdCreate('kapsel-stage', MFD_CLOEXEC | MFD_ALLOW_SEALING);
  }
  let off = 0;
  while (off < bytes.length) off += sys.write(fd, bytes.subarray(off));
  sys.addSeals(fd, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
  sealedCopy = fd;
  return fd;
}

export interface StageSpawnOptions {
  /** fds 0, 1, 2 of the stage (and so of the container process unless it gets a terminal). */
  readonly stdio: readonly [number | 'inherit' | 'ignore', number | 'inherit' | 'ignore', number | 'inherit' | 'ignore'];
  /** Pass this process's fds 3 .. 3+n-1 through at the same numbers (--preserve-fds). */
  readonly preserveFds: number;
  /** Receive timeout for each message from the stage. */
  readonly timeoutMs?: number;
}

export interface ReceivedStageMessage extends StageMessage {
  readonly fds: number[];
}

export class StageProcess {
  private closed = false;

  private constructor(
    private readonly sys: Syscalls,
    private readonly sock: number,
    readonly child: ChildProcess | undefined,
  ) {}

  /**
   * A stage another process started from sealedStage() with the other end of `sock` (a
   * SOCK_SEQPACKET pair) as its sync fd: kapsel's per-container monitor, so that the container
   * init becomes the monitor's child, not ours.
   */
  static adopt(sys: Syscalls, sock: number, timeoutMs = 60_000): StageProcess {
    sys.setReceiveTimeout(sock, timeoutMs);
    return new StageProcess(sys, sock, undefined);
  }

  /**
   * A stage another process forks and execs from our sealed memfd with its own fds 0-2 (and
   * 3 .. 3+preserveFds-1): the front of `kapsel-runtime daemon`, so that the init is the
   * caller's descendant. `fork(memfd, sock, syncFd)` puts `sock` at `syncFd` in the stage.
   */
  static forkedBy(sys: Syscalls, preserveFds: number, fork: (memfd: number, sock: number, syncFd: number) => void, timeoutMs = 60_000): StageProcess {
    const memfd = sealedStage(sys);
    const [ours, theirs] = sys.socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC);
    try {
      fork(memfd, theirs, 3 + preserveFds);
    } catch (err) {
      sys.close(ours);
      throw err;
    } finally {
      sys.close(theirs);
    }
    return StageProcess.adopt(sys, ours, timeoutMs);
  }

  static spawn(sys: Syscalls, opts: StageSpawnOptions): StageProcess {
    const memfd = sealedStage(sys);
    const [ours, theirs] = sys.socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC);
    const syncFd = 3 + opts.preserveFds;
    const stdio: (number | 'inherit' | 'ignore')[] = [...opts.stdio];
    for (let fd = 3; fd < syncFd; fd++) stdio.push(fd);
    stdio.push(theirs);
    let child: ChildProcess;
    try {
      child = spawn(`/proc/${process.pid}/fd/${memfd}`, [String(syncFd)], {
        argv0: 'kapsel-stage',
        stdio,
        env: {},
      });
    } finally {
      sys.close(theirs);
    }
    if (child.pid === undefined) {
      sys.close(ours);
      throw new KapselError('ERR_STAGE', 'start the native stage: spawn failed');
    }
    child.on('error', () => undefined);
    sys.setReceiveTimeout(ours, opts.timeoutMs ?? 60_000);
    return new StageProcess(sys, ours, child);
  }

  send(message: Buffer, fds: readonly number[] = []): void {
    for (;;) {
      try {
        this.sys.sendmsg(this.sock, message, fds);
        return;
      } catch (err) {
        if (!(err instanceof SyscallError && err.code === 'EINTR')) throw err;
      }
    }
  }

  receive(): ReceivedStageMessage {
    let packet;
    for (;;) {
      try {
        packet = this.sys.recvmsg(this.sock, 1 << 16, 8);
        break;
      } catch (err) {
        // SO_RCVTIMEO makes a signal (SIGCHLD when the stage's first process exits, SIGPROF
        // under a profiler) end the call with EINTR instead of restarting it: receive again.
        if (err instanceof SyscallError && err.code === 'EINTR') continue;
        if (err instanceof SyscallError && err.code === 'EAGAIN') {
          throw new KapselError('ERR_STAGE', 'the native stage did not answer in time', { cause: err });
        }
        throw err;
      }
    }
    if (packet.data.length === 0) throw new KapselError('ERR_STAGE', 'the container init exited during setup');
    const msg = decodeMessage(packet.data);
    if (msg.type === MsgType.ERROR) {
      for (const fd of packet.fds) this.sys.close(fd);
      const { errno, text } = decodeError(msg.payload);
      throw new SyscallError('stage', errno, `container init: ${text}`);
    }
    return { ...msg, fds: packet.fds };
  }

  expect(type: number): ReceivedStageMessage {
    const msg = this.receive();
    if (msg.type !== type) {
      for (const fd of msg.fds) this.sys.close(fd);
      throw new KapselError('ERR_STAGE', `native stage protocol: expected message ${type}, got ${msg.type}`);
    }
    return msg;
  }

  /** fsopen(2) in the init's namespaces; the caller owns the returned fd. */
  fsopen(fstype: string): number {
    this.send(new MessageWriter(MsgType.FSOPEN).str(Tag.FSTYPE, fstype).finish());
    const msg = this.expect(MsgType.FD);
    const fd = msg.fds[0];
    if (fd === undefined) throw new KapselError('ERR_STAGE', `fsopen \`${fstype}\`: no fd received`);
    return fd;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sys.close(this.sock);
  }
}
