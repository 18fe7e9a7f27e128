import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recordingSyscalls } from '../sys/recording-syscalls.js';
import { AF_NETLINK, NETLINK_ROUTE } from '../sys/constants.js';
import { Rtnetlink } from './rtnetlink.js';
import { NLMSG_DONE, NLMSG_ERROR, RTM_NEWLINK, delLink, encodeMessage, ifinfomsg, strAttr, IFLA_IFNAME } from './netlink.js';

/** A fake kernel: answers each written request with `reply(seq, request)`. */
function fakeKernel(reply: (seq: number, req: Buffer) => Buffer[]) {
  let pending: Buffer[] = [];
  const sys = recordingSyscalls({
    socket: 7,
    write: (_fd: unknown, buf: unknown) => {
      const req = buf as Buffer;
      pending = reply(req.readUInt32LE(8), req);
      return req.length;
    },
    read: (_fd: unknown, buf: unknown) => {
      const next = pending.shift() ?? Buffer.alloc(0);
      next.copy(buf as Buffer);
      return next.length;
    },
  });
  return sys;
}

function errorReply(seq: number, errno: number, req: Buffer): Buffer {
  const e = Buffer.alloc(4);
  e.writeInt32LE(-errno, 0);
  return encodeMessage(NLMSG_ERROR, 0x100, Buffer.concat([e, req.subarray(0, 16)]), [], seq);
}

test('request: waits for the ACK of its own sequence number, skipping others', () => {
  const sys = fakeKernel((seq, req) => [errorReply(seq + 1000, 1, req), errorReply(seq, 0, req)]);
  const nl = Rtnetlink.open(sys);
  nl.request(delLink('kt0'), 'delete link `kt0`');
  nl.close();
  assert.deepEqual(sys.calls[0]?.args, [AF_NETLINK, 3 | 0o2000000, NETLINK_ROUTE]);
  assert.deepEqual(sys.names(), ['socket', 'setsockoptInt', 'setReceiveTimeout', 'write', 'read', 'read', 'close']);
});

test('request: a kernel error becomes a SyscallError naming the errno and the operation', () => {
  const sys = fakeKernel((seq, req) => [errorReply(seq, 17, req)]);
  const nl = Rtnetlink.open(sys);
  assert.throws(() => nl.request(delLink('kt0'), 'create bridge `kt0`'), (e: Error & { code?: string }) => e.code === 'EEXIST' && e.message === 'create bridge `kt0`: EEXIST (file exists)');
});

test('link(): the reply parsed; ENODEV means no such link', () => {
  const sys = fakeKernel((seq, req) => {
    const name = req.includes(Buffer.from('kt-br\0')) ? 'kt-br' : undefined;
    if (name === undefined) return [errorReply(seq, 19, req)];
    return [encodeMessage(RTM_NEWLINK, 0, ifinfomsg(9, 1), [strAttr(IFLA_IFNAME, name)], seq)];
  });
  const nl = Rtnetlink.open(sys);
  assert.equal(nl.link('kt-br')?.index, 9);
  assert.equal(nl.link('nope'), undefined);
});

test('dumps: messages up to NLMSG_DONE, across several reads', () => {
  const sys = fakeKernel((seq) => [
    encodeMessage(RTM_NEWLINK, 2, ifinfomsg(1), [strAttr(IFLA_IFNAME, 'lo')], seq),
    Buffer.concat([encodeMessage(RTM_NEWLINK, 2, ifinfomsg(2), [strAttr(IFLA_IFNAME, 'eth0')], seq), encodeMessage(NLMSG_DONE, 2, Buffer.alloc(4), [], seq)]),
  ]);
  assert.deepEqual(Rtnetlink.open(sys).links().map((l) => l.name), ['lo', 'eth0']);
});
