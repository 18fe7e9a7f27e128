import { KapselError } from '../common/errors.js';
import { errnoDescription, errnoName } from './errno.js';

/**
 * A failed system call. The errno is never dropped: `errno` holds the number, `code` its name
 * (`EPERM`), and the message reads ``mount `proc` on `/rootfs/proc`: EPERM (operation not permitted)``.
 */
export class SyscallError extends KapselError {
  readonly syscall: string;
  readonly errno: number;
  readonly path: string | undefined;

  constructor(syscall: string, errno: number, what?: string, path?: string) {
    super(errnoName(errno), `${what ?? syscall}: ${errnoDescription(errno)}`);
    this.name = 'SyscallError';
    this.syscall = syscall;
    this.errno = errno;
    this.path = path;
  }
}

export function isErrno(err: unknown, name: string): boolean {
  return err instanceof SyscallError && err.code === name;
}
