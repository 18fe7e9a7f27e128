/**
 * Hands the terminal master to the caller over `--console-socket` (runc's protocol: one
 * message on a SOCK_STREAM unix socket carrying the fd with SCM_RIGHTS; the data is the
 * terminal's name).
 */
import type { Syscalls } from '../sys/syscalls.js';
import { wrapError } from '../common/errors.js';

export function sendConsole(sys: Syscalls, socketPath: string, master: number): void {
  let sock: number;
  try {
    sock = sys.connectUnix(socketPath);
  } catch (err) {
    throw wrapError('ERR_CONSOLE', `connect to console socket \`${socketPath}\``, err);
  }
  try {
    sys.sendmsg(sock, Buffer.from('/dev/ptmx'), [master]);
  } catch (err) {
    throw wrapError('ERR_CONSOLE', `send terminal to console socket \`${socketPath}\``, err);
  } finally {
    sys.close(sock);
  }
}
