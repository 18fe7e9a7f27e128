import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWTIME, CLONE_NEWUSER,
  CLONE_NEWUTS,
} from '../sys/constants.js';
import type { IdMapping, Namespace } from '../oci/runtime-spec.js';
import { formatIdMap, formatTimeOffsets, planNamespaces, toHostId } from './plan.js';

const ROOTLESS_UIDS: IdMapping[] = [
  { containerID: 0, hostID: 1000, size: 1 },
  { containerID: 1, hostID: 100000, size: 65536 },
];
const ROOTLESS_GIDS: IdMapping[] = [{ containerID: 0, hostID: 1000, size: 1 }];

describe('planNamespaces', () => {
  it('unshares every namespace without a path (runc default spec)', () => {
    const plan = planNamespaces([{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }]);
    assert.equal(plan.cloneFlags, CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS);
    assert.deepEqual(plan.joins, []);
    assert.deepEqual([...plan.types].sort(), ['ipc', 'mount', 'network', 'pid', 'uts']);
    assert.equal(plan.syncAfterUnshare, false);
    assert.equal(plan.uidMap, undefined);
    assert.equal(plan.gidMap, undefined);
    assert.equal(plan.timeOffsets, undefined);
  });

  it('joins namespaces given by path instead of creating them', () => {
    const plan = planNamespaces([
      { type: 'pid' },
      { type: 'network', path: '/var/run/netns/blue' },
      { type: 'ipc', path: '/proc/42/ns/ipc' },
      { type: 'mount' },
    ]);
    assert.equal(plan.cloneFlags, CLONE_NEWPID | CLONE_NEWNS);
    assert.equal(plan.cloneFlags & CLONE_NEWNET, 0);
    assert.deepEqual(plan.joins, [
      { type: 'network', nstype: CLONE_NEWNET, path: '/var/run/netns/blue' },
      { type: 'ipc', nstype: CLONE_NEWIPC, path: '/proc/42/ns/ipc' },
    ]);
    // joined namespaces still count as the container's own
    assert.deepEqual([...plan.types].sort(), ['ipc', 'mount', 'network', 'pid']);
  });

  it('treats an empty path as "create"', () => {
    const plan = planNamespaces([{ type: 'cgroup', path: '' }]);
    assert.equal(plan.cloneFlags, CLONE_NEWCGROUP);
    assert.deepEqual(plan.joins, []);
  });

  it('uses the kernel clone flag for each type', () => {
    const all: Namespace[] = ['user', 'mount', 'pid', 'network', 'ipc', 'uts', 'cgroup', 'time'].map((type) => ({ type }) as Namespace);
    assert.equal(
      planNamespaces(all).cloneFlags,
      CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP | CLONE_NEWTIME,
    );
    assert.equal(planNamespaces([{ type: 'user', path: '/proc/1/ns/user' }]).joins[0]?.nstype, CLONE_NEWUSER);
    assert.equal(planNamespaces([{ type: 'time', path: '/proc/1/ns/time' }]).joins[0]?.nstype, CLONE_NEWTIME);
  });

  it('syncs after unshare and writes id maps for a new user namespace', () => {
    const plan = planNamespaces([{ type: 'user' }, { type: 'mount' }, { type: 'pid' }], ROOTLESS_UIDS, ROOTLESS_GIDS);
    assert.equal(plan.cloneFlags & CLONE_NEWUSER, CLONE_NEWUSER);
    assert.equal(plan.syncAfterUnshare, true);
    assert.equal(plan.uidMap, '0 1000 1\n1 100000 65536\n');
    assert.equal(plan.gidMap, '0 1000 1\n');
  });

  it('syncs for a new user namespace even without mappings, but writes no map', () => {
    const plan = planNamespaces([{ type: 'user' }]);
    assert.equal(plan.syncAfterUnshare, true);
    assert.equal(plan.uidMap, undefined);
    assert.equal(plan.gidMap, undefined);
  });

  it('does not sync or write maps when the user namespace is joined', () => {
    const plan = planNamespaces([{ type: 'user', path: '/proc/7/ns/user' }, { type: 'mount' }], ROOTLESS_UIDS, ROOTLESS_GIDS);
    assert.equal(plan.cloneFlags, CLONE_NEWNS);
    assert.equal(plan.syncAfterUnshare, false);
    assert.equal(plan.uidMap, undefined);
    assert.equal(plan.gidMap, undefined);
  });

  it('ignores mappings when there is no user namespace at all', () => {
    const plan = planNamespaces([{ type: 'mount' }], ROOTLESS_UIDS, ROOTLESS_GIDS);
    assert.equal(plan.syncAfterUnshare, false);
    assert.equal(plan.uidMap, undefined);
  });

  it('syncs and writes timens_offsets for a new time namespace with offsets', () => {
    const plan = planNamespaces([{ type: 'time' }, { type: 'pid' }], [], [], {
      monotonic: { secs: 86400, nanosecs: 5 },
      boottime: { secs: -10 },
    });
    assert.equal(plan.syncAfterUnshare, true);
    assert.equal(plan.timeOffsets, 'monotonic 86400 5\nboottime -10 0\n');
    assert.equal(plan.uidMap, undefined);
  });

  it('does not sync for a new time namespace without offsets', () => {
    const plan = planNamespaces([{ type: 'time' }]);
    assert.equal(plan.cloneFlags, CLONE_NEWTIME);
    assert.equal(plan.syncAfterUnshare, false);
    assert.equal(plan.timeOffsets, undefined);
  });

  it('does not write offsets into a joined time namespace or without one', () => {
    const offsets = { monotonic: { secs: 1 } };
    const joined = planNamespaces([{ type: 'time', path: '/proc/3/ns/time' }], [], [], offsets);
    assert.equal(joined.syncAfterUnshare, false);
    assert.equal(joined.timeOffsets, undefined);
    const none = planNamespaces([{ type: 'pid' }], [], [], offsets);
    assert.equal(none.syncAfterUnshare, false);
    assert.equal(none.timeOffsets, undefined);
  });

  it('is plain serialisable data apart from the types set', () => {
    const plan = planNamespaces([{ type: 'user' }, { type: 'network', path: '/n' }], ROOTLESS_UIDS, ROOTLESS_GIDS);
    const { types, ...rest } = plan;
    assert.deepEqual(JSON.parse(JSON.stringify(rest)), {
      cloneFlags: CLONE_NEWUSER,
      joins: [{ type: 'network', nstype: CLONE_NEWNET, path: '/n' }],
      syncAfterUnshare: true,
      uidMap: '0 1000 1\n1 100000 65536\n',
      gidMap: '0 1000 1\n',
    });
    assert.ok(types.has('user') && types.has('network'));
  });
});

describe('id map and time offset text', () => {
  it('formats `containerID hostID size\\n` per line (user_namespaces(7))', () => {
    assert.equal(formatIdMap([]), '');
    assert.equal(formatIdMap([{ containerID: 0, hostID: 0, size: 4294967295 }]), '0 0 4294967295\n');
    assert.equal(formatIdMap(ROOTLESS_UIDS), '0 1000 1\n1 100000 65536\n');
  });

  it('formats `clock secs nanosecs\\n`, zero for a missing field', () => {
    assert.equal(formatTimeOffsets({}), '');
    assert.equal(formatTimeOffsets({ boottime: {} }), 'boottime 0 0\n');
    assert.equal(formatTimeOffsets({ monotonic: { nanosecs: 999999999 } }), 'monotonic 0 999999999\n');
  });
});

describe('toHostId', () => {
  it('is the identity without mappings', () => {
    assert.equal(toHostId(0, []), 0);
    assert.equal(toHostId(1234, []), 1234);
  });

  it('maps through the range containing the id', () => {
    assert.equal(toHostId(0, ROOTLESS_UIDS), 1000);
    assert.equal(toHostId(1, ROOTLESS_UIDS), 100000);
    assert.equal(toHostId(5, ROOTLESS_UIDS), 100004);
    assert.equal(toHostId(65536, ROOTLESS_UIDS), 165535);
  });

  it('returns the overflow id 65534 for an unmapped id (the range end is exclusive)', () => {
    assert.equal(toHostId(65537, ROOTLESS_UIDS), 65534);
    assert.equal(toHostId(1, ROOTLESS_GIDS), 65534);
    assert.equal(toHostId(5, [{ containerID: 10, hostID: 2000, size: 5 }]), 65534);
  });
});
