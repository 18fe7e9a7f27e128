/**
 * A route netlink client over Syscalls: sends the requests of netlink.ts on an AF_NETLINK socket
 * and waits for the kernel's ACK or error (netlink(7)). A socket acts on the network namespace it
 * was created in, so `openInNetns` creates one inside a container's namespace (setns on this
 * thread for the socket(2) call only) and every request on it configures that namespace.
 */
import { AF_NETLINK, CLONE_NEWNET, NETLINK_EXT_ACK, NETLINK_ROUTE, O_CLOEXEC, O_RDONLY, SOCK_CLOEXEC, SOCK_RAW, SOL_NETLINK } from '../sys/constants.js';
import type { Syscalls } from '../sys/syscalls.js';
import { SyscallError } from '../sys/syscall-error.js';
import { KapselError } from '../common/errors.js';
import {
  NLMSG_DONE, NLMSG_ERROR, dumpAddrs, dumpLinks, dumpRoutes, getLinkByName, parseAddr, parseError, parseLink, parseRoute,
  splitMessages,
} from './netlink.js';
import type { AddrInfo, LinkInfo, RawMessage, RouteInfo } from './netlink.js';

const RECV_BYTES = 65536;
const RECV_TIMEOUT_MS = 30_000;

export class Rtnetlink {
  readonly #sys: Syscalls;
  #fd: number;
  #seq = Math.floor(Math.random() * 0x7fffffff);

  private constructor(sys: Syscalls, fd: number) {
    this.#sys = sys;
    this.#fd = fd;
  }

  /** A socket in the calling thread's network namespace. */
  static open(sys: Syscalls): Rtnetlink {
    const fd = sys.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    try {
      sys.setsockoptInt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1);
    } catch {
      // kernels before 4.12: errors without the kernel's text
    }
    // a reply that never comes (it always does) fails with EAGAIN instead of hanging the CLI
    sys.setReceiveTimeout(fd, RECV_TIMEOUT_MS);
    return new Rtnetlink(sys, fd);
  }

  /** A socket in the network namespace at `netnsPath` (e.g. /proc/<pid>/ns/net). */
  static openInNetns(sys: Syscalls, netnsPath: string): Rtnetlink {
    const self = sys.open('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC);
    try {
      const target = sys.open(netnsPath, O_RDONLY | O_CLOEXEC);
      try {
        sys.setns(target, CLONE_NEWNET);
      } finally {
        sys.close(target);
      }
      try {
        return Rtnetlink.open(sys);
      } finally {
        try {
          sys.setns(self, CLONE_NEWNET);
        } catch (err) {
          throw new KapselError('ERR_NAMESPACE_RESTORE', 'return to the host network namespace', { cause: err });
        }
      }
    } finally {
      sys.close(self);
    }
  }

  close(): void {
    if (this.#fd < 0) return;
    this.#sys.close(this.#fd);
    this.#fd = -1;
  }

  #send(msg: Buffer): number {
    const seq = (this.#seq = (this.#seq + 1) >>> 0);
    const copy = Buffer.from(msg);
    copy.writeUInt32LE(seq, 8);
    this.#sys.write(this.#fd, copy);
    return seq;
  }

  #receive(): RawMessage[] {
    const buf = Buffer.alloc(RECV_BYTES);
    const n = this.#sys.read(this.#fd, buf);
    return splitMessages(buf.subarray(0, n));
  }

  /** Sends a request with NLM_F_ACK and waits for its ACK; `what` names it in errors. */
  request(msg: Buffer, what: string): void {
    const seq = this.#send(msg);
    for (;;) {
      for (const m of this.#receive()) {
        if (m.seq !== seq || m.type !== NLMSG_ERROR) continue;
        const { errno, message } = parseError(m);
        if (errno === 0) return;
        throw new SyscallError('rtnetlink', errno, message === undefined ? what : `${what} (${message})`);
      }
    }
  }

  /** Sends a request and collects every reply message up to NLMSG_DONE (dumps) or the one reply. */
  #collect(msg: Buffer, what: string): RawMessage[] {
    const seq = this.#send(msg);
    const out: RawMessage[] = [];
    for (;;) {
      for (const m of this.#receive()) {
        if (m.seq !== seq) continue;
        if (m.type === NLMSG_DONE) return out;
        if (m.type === NLMSG_ERROR) {
          const { errno, message } = parseError(m);
          if (errno === 0) return out;
          throw new SyscallError('rtnetlink', errno, message === undefined ? what : `${what} (${message})`);
        }
        out.push(m);
        if ((m.flags & 0x2) === 0) return out; // not NLM_F_MULTI: a single reply
      }
    }
  }

  links(): LinkInfo[] {
    return this.#collect(dumpLinks(), 'list links').map(parseLink);
  }
  addresses(): AddrInfo[] {
    return this.#collect(dumpAddrs(), 'list addresses').map(parseAddr);
  }
  routes(): RouteInfo[] {
    return this.#collect(dumpRoutes(), 'list routes').map(parseRoute);
  }
  /** The link named `name`, or undefined when there is none (ENODEV). */
  link(name: string): LinkInfo | undefined {
    try {
      const [m] = this.#collect(getLinkByName(name), `get link \`${name}\``);
      return m === undefined ? undefined : parseLink(m);
    } catch (err) {
      if (err instanceof SyscallError && err.code === 'ENODEV') return undefined;
      throw err;
    }
  }
}
