/**
 * The loopback interface of a network namespace the runtime creates is brought up, as runc (its
 * "loopback" network strategy) and crun do: clients such as podman (`--network none`) pass a
 * network namespace without a path and expect `lo` to work inside (127.0.0.1 and ::1).
 * A namespace the container joins by path is someone else's to configure and is left alone.
 */
import { endianness } from 'node:os';
import { AF_UNIX, SOCK_CLOEXEC, SOCK_STREAM } from '../sys/constants.js';
import type { Syscalls } from '../sys/syscalls.js';

// include/uapi/linux/sockios.h, include/uapi/linux/if.h
const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const IFF_UP = 0x1;
/** struct ifreq: char ifr_name[IFNAMSIZ = 16], then a union whose ifr_flags is a short. */
const IFREQ_SIZE = 40;
const IFR_FLAGS = 16;

/**
 * Sets IFF_UP on `lo` in the network namespace of the calling thread (call it inside
 * `inNamespaces(..., ['network'], ...)`). The interface ioctls act on the socket's network
 * namespace, which is its creating thread's, and every socket family hands them to the device
 * layer, so a unix socket serves.
 */
export function bringLoopbackUp(sys: Syscalls): void {
  const [fd, peer] = sys.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC);
  try {
    const ifr = Buffer.alloc(IFREQ_SIZE);
    ifr.write('lo', 0, 'latin1');
    sys.ioctlBuffer(fd, SIOCGIFFLAGS, ifr);
    const le = endianness() === 'LE';
    const flags = le ? ifr.readUInt16LE(IFR_FLAGS) : ifr.readUInt16BE(IFR_FLAGS);
    if ((flags & IFF_UP) !== 0) return;
    if (le) ifr.writeUInt16LE(flags | IFF_UP, IFR_FLAGS);
    else ifr.writeUInt16BE(flags | IFF_UP, IFR_FLAGS);
    sys.ioctlBuffer(fd, SIOCSIFFLAGS, ifr);
  } finally {
    sys.close(fd);
    sys.close(peer);
  }
}
