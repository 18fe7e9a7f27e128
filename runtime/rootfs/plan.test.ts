import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MS_BIND, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC, MS_SHARED, MS_SLAVE, MS_STRICTATIME, MS_UNBINDABLE, S_IFBLK, S_IFCHR, S_IFIFO } from '../../sys/constants.js';
import { defaultSpec } from '../../oci/default-spec.js';
import type { Device, Mount, Spec } from '../../oci/runtime-spec.js';
import { DEFAULT_DEVICES, planRootfs, type RootfsPlanOptions } from './plan.js';

const OPTS: RootfsPlanOptions = { bundle: '/bundles/c1', rootfs: '/bundles/c1/rootfs', newMountNamespace: true, newUserNamespace: false, noPivot: false };

/** runc's default spec with `edit` applied to a fresh copy. */
function spec(edit: (s: Spec) => void = () => undefined): Spec {
  const s = defaultSpec();
  edit(s);
  return s;
}

function withMounts(...extra: Mount[]): Spec {
  return spec((s) => {
    s.mounts = [...(s.mounts ?? []), ...extra];
  });
}

function withDevices(...devices: Device[]): Spec {
  return spec((s) => {
    s.linux = { ...(s.linux ?? {}), devices };
  });
}

const DEFAULT_PATHS = ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty'];

describe('planRootfs: default spec', () => {
  const plan = planRootfs(defaultSpec(), OPTS);

  it('creates the six default devices as 0666 character devices owned by root', () => {
    assert.deepEqual(plan.devices.map((d) => d.path), DEFAULT_PATHS);
    assert.deepEqual(plan.devices.map((d) => [d.major, d.minor]), [[1, 3], [1, 5], [1, 7], [1, 8], [1, 9], [5, 0]]);
    for (const d of plan.devices) {
      assert.equal(d.mode, S_IFCHR | 0o666, d.path);
      assert.equal(d.uid, 0);
      assert.equal(d.gid, 0);
    }
    assert.equal(plan.bindDevices, false);
  });

  it('adds the /dev/fd and stdio symlinks and the ptmx symlink', () => {
    assert.deepEqual(plan.symlinks, [
      { target: '/proc/self/fd', path: '/dev/fd' },
      { target: '/proc/self/fd/0', path: '/dev/stdin' },
      { target: '/proc/self/fd/1', path: '/dev/stdout' },
      { target: '/proc/self/fd/2', path: '/dev/stderr' },
    ]);
    assert.equal(plan.ptmxSymlink, true);
  });

  it('plans the spec mounts in order with parsed options', () => {
    assert.deepEqual(plan.mounts.map((m) => m.destination), ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup']);
    assert.deepEqual(plan.mounts.map((m) => m.type), ['proc', 'tmpfs', 'devpts', 'tmpfs', 'mqueue', 'sysfs', 'cgroup']);
    assert.ok(plan.mounts.every((m) => !m.bind && !m.recursive));
    const dev = plan.mounts[1];
    assert.equal(dev?.source, 'tmpfs');
    assert.equal(dev?.options.flags, MS_NOSUID | MS_STRICTATIME);
    assert.deepEqual(dev?.options.data, ['mode=755', 'size=65536k']);
    assert.equal(((plan.mounts[5]?.options.flags ?? 0) & MS_RDONLY), MS_RDONLY);
  });

  it('carries masked and read-only paths, read-only root, console and cwd', () => {
    assert.deepEqual(plan.maskedPaths, defaultSpec().linux?.maskedPaths);
    assert.deepEqual(plan.readonlyPaths, defaultSpec().linux?.readonlyPaths);
    assert.equal(plan.readonlyRoot, true);
    assert.equal(plan.console, true);
    assert.equal(plan.cwd, '/');
    assert.equal(plan.rootfs, '/bundles/c1/rootfs');
  });

  it('is plain serialisable data', () => {
    // JSON drops undefined fields; everything else must survive the round trip unchanged
    const defined = JSON.parse(JSON.stringify(plan)) as unknown;
    const withoutUndefined = Object.fromEntries(Object.entries(plan).filter(([, v]) => v !== undefined));
    assert.deepEqual(defined, withoutUndefined);
  });
});

describe('planRootfs: devices', () => {
  it('lets linux.devices override a default device by path, and appends the configured ones', () => {
    const plan = planRootfs(withDevices(
      { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o600, uid: 7, gid: 8 },
      { path: '/dev/fuse', type: 'c', major: 10, minor: 229 },
    ), OPTS);
    assert.deepEqual(plan.devices.map((d) => d.path), ['/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/null', '/dev/fuse']);
    const nulls = plan.devices.filter((d) => d.path === '/dev/null');
    assert.deepEqual(nulls, [{ path: '/dev/null', mode: S_IFCHR | 0o600, major: 1, minor: 3, uid: 7, gid: 8 }]);
    assert.deepEqual(plan.devices.at(-1), { path: '/dev/fuse', mode: S_IFCHR | 0o666, major: 10, minor: 229, uid: 0, gid: 0 });
  });

  it('matches the override by normalised path', () => {
    const plan = planRootfs(withDevices({ path: '/dev/../dev//tty', type: 'c', major: 5, minor: 0, fileMode: 0o620 }), OPTS);
    assert.equal(plan.devices.length, DEFAULT_DEVICES.length);
    assert.equal(plan.devices.filter((d) => d.major === 5 && d.minor === 0).length, 1);
  });

  it('encodes the device type in the mode and keeps only permission bits of fileMode', () => {
    const plan = planRootfs(withDevices(
      { path: '/dev/sda', type: 'b', major: 8, minor: 0, fileMode: 0o660 },
      { path: '/dev/kmsg', type: 'u', major: 1, minor: 11, fileMode: 0o020644 },
      { path: '/dev/pipe', type: 'p' },
    ), OPTS);
    const by = (p: string) => plan.devices.find((d) => d.path === p);
    assert.equal(by('/dev/sda')?.mode, S_IFBLK | 0o660);
    assert.equal(by('/dev/kmsg')?.mode, S_IFCHR | 0o644);
    assert.equal(by('/dev/pipe')?.mode, S_IFIFO | 0o666);
    assert.equal(by('/dev/pipe')?.major, 0);
  });

  it('maps device owners through uidMappings/gidMappings in a new user namespace', () => {
    const s = spec((x) => {
      x.linux = {
        ...(x.linux ?? {}),
        uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 100000, size: 65536 }],
        gidMappings: [{ containerID: 0, hostID: 2000, size: 1 }, { containerID: 1, hostID: 200000, size: 65536 }],
        devices: [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, uid: 5, gid: 6 }],
      };
    });
    const plan = planRootfs(s, { ...OPTS, newUserNamespace: true });
    const nul = plan.devices.find((d) => d.path === '/dev/null');
    assert.equal(nul?.uid, 1000);
    assert.equal(nul?.gid, 2000);
    const fuse = plan.devices.find((d) => d.path === '/dev/fuse');
    assert.equal(fuse?.uid, 100004);
    assert.equal(fuse?.gid, 200005);
    assert.equal(plan.bindDevices, true);
  });

  it('does not map device owners without a new user namespace', () => {
    const s = spec((x) => {
      x.linux = { ...(x.linux ?? {}), uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }], gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }] };
    });
    const plan = planRootfs(s, OPTS);
    assert.ok(plan.devices.every((d) => d.uid === 0 && d.gid === 0));
  });
});

describe('planRootfs: /dev bound from the host', () => {
  for (const [label, m] of [
    ['type bind', { destination: '/dev', type: 'bind', source: '/dev', options: ['rbind'] }],
    ['type none + rbind', { destination: '/dev/', type: 'none', source: '/dev', options: ['rbind', 'nosuid'] }],
    ['no type + bind', { destination: '//dev', source: '/dev', options: ['bind'] }],
  ] as [string, Mount][]) {
    it(`creates no devices and no /dev symlinks (${label})`, () => {
      const s = withMounts(m);
      s.linux = { ...(s.linux ?? {}), devices: [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229 }] };
      const plan = planRootfs(s, OPTS);
      assert.deepEqual(plan.devices, []);
      assert.deepEqual(plan.symlinks, []);
      assert.equal(plan.ptmxSymlink, false);
    });
  }

  it('still creates devices when /dev is a tmpfs or a bind lands below /dev', () => {
    const plan = planRootfs(withMounts({ destination: '/dev/net/tun', type: 'bind', source: '/dev/net/tun', options: ['bind'] }), OPTS);
    assert.equal(plan.devices.length, DEFAULT_DEVICES.length);
    assert.equal(plan.ptmxSymlink, true);
  });
});

describe('planRootfs: bind mounts', () => {
  it('resolves a relative bind source against the bundle', () => {
    const plan = planRootfs(withMounts({ destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'ro'] }), OPTS);
    const m = plan.mounts.at(-1);
    assert.equal(m?.source, '/bundles/c1/data');
    assert.equal(m?.bind, true);
    assert.equal(m?.recursive, true);
    assert.equal(m?.options.flags, MS_BIND | MS_REC | MS_RDONLY);
  });

  it('keeps an absolute bind source and the source of non-bind mounts', () => {
    const plan = planRootfs(withMounts(
      { destination: '/etc/hosts', type: 'bind', source: '/var/lib/c1/hosts', options: ['bind'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs' },
    ), OPTS);
    const [hosts, tmp] = plan.mounts.slice(-2);
    assert.equal(hosts?.source, '/var/lib/c1/hosts');
    assert.equal(hosts?.recursive, false);
    assert.equal(tmp?.source, 'tmpfs');
    assert.equal(tmp?.bind, false);
  });

  it('treats a mount without type as a bind when the options say so', () => {
    const plan = planRootfs(withMounts({ destination: '/x', source: 'x', options: ['rbind'] }, { destination: '/y', source: 'y' }), OPTS);
    const [x, y] = plan.mounts.slice(-2);
    assert.equal(x?.type, 'bind');
    assert.equal(x?.source, '/bundles/c1/x');
    assert.equal(y?.type, 'none');
    assert.equal(y?.bind, false);
    assert.equal(y?.source, 'y');
  });
});

describe('planRootfs: switching root', () => {
  it('pivots by default, moves with --no-pivot, chroots without a mount namespace', () => {
    assert.equal(planRootfs(defaultSpec(), OPTS).switchRoot, 'pivot');
    assert.equal(planRootfs(defaultSpec(), { ...OPTS, noPivot: true }).switchRoot, 'move');
    assert.equal(planRootfs(defaultSpec(), { ...OPTS, newMountNamespace: false }).switchRoot, 'chroot');
    assert.equal(planRootfs(defaultSpec(), { ...OPTS, newMountNamespace: false, noPivot: true }).switchRoot, 'chroot');
  });
});

describe('planRootfs: rootfsPropagation', () => {
  const prop = (p: string | undefined) => {
    const s = spec((x) => {
      const linux = { ...(x.linux ?? {}) };
      if (p === undefined) delete linux.rootfsPropagation;
      else linux.rootfsPropagation = p as NonNullable<typeof linux.rootfsPropagation>;
      x.linux = linux;
    });
    const plan = planRootfs(s, OPTS);
    return [plan.rootPropagation, plan.finalPropagation];
  };

  it('makes / rslave first and changes nothing after pivot when unset', () => {
    assert.deepEqual(prop(undefined), [MS_SLAVE | MS_REC, 0]);
  });

  it('uses the configured propagation for / before and after pivot', () => {
    assert.deepEqual(prop('shared'), [MS_SHARED, MS_SHARED]);
    assert.deepEqual(prop('rshared'), [MS_SHARED | MS_REC, MS_SHARED | MS_REC]);
    assert.deepEqual(prop('private'), [MS_PRIVATE, MS_PRIVATE]);
    assert.deepEqual(prop('rprivate'), [MS_PRIVATE | MS_REC, MS_PRIVATE | MS_REC]);
    assert.deepEqual(prop('slave'), [MS_SLAVE, MS_SLAVE]);
    assert.deepEqual(prop('rslave'), [MS_SLAVE | MS_REC, MS_SLAVE | MS_REC]);
    assert.deepEqual(prop('unbindable'), [MS_UNBINDABLE, MS_UNBINDABLE]);
    assert.deepEqual(prop('runbindable'), [MS_UNBINDABLE | MS_REC, MS_UNBINDABLE | MS_REC]);
  });
});
