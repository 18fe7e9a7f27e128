import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { KapselError } from '../common/errors.js';
import { cgroupDirIn, parseCgroupsPath } from './cgroup-path.js';
import { detectCgroupHost, newCgroupManager, parseMountinfo, parseProcCgroup } from './detect.js';
import { fakeHost, HYBRID_MOUNTINFO, LEGACY_MOUNTINFO, UNIFIED_MOUNTINFO, type FakeHost } from './fake-cgroup-host.js';

const isCode = (code: string) => (e: unknown) => e instanceof KapselError && e.code === code;

describe('host detection', () => {
  let host: FakeHost | undefined;
  afterEach(() => host?.cleanup());

  it('finds a hybrid host with separate cpu and cpuacct, name=systemd and the v2 controllers', () => {
    host = fakeHost({ 'sys/fs/cgroup/unified/cgroup.controllers': 'hugetlb\n' });
    const h = detectCgroupHost({ mountinfo: HYBRID_MOUNTINFO, root: host.root, fs: host.fs });
    assert.equal(h.mode, 'hybrid');
    assert.deepEqual(h.v1.map((x) => x.controllers.join(',')), ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'name=systemd']);
    assert.equal(h.v1[0]?.mountPoint, '/sys/fs/cgroup/cpu');
    assert.deepEqual(h.v2, { mountPoint: '/sys/fs/cgroup/unified', root: '/', controllers: ['hugetlb'] });
  });

  it('splits co-mounted controllers and ignores mount flags (legacy)', () => {
    const h = detectCgroupHost({ mountinfo: LEGACY_MOUNTINFO });
    assert.equal(h.mode, 'legacy');
    assert.equal(h.v2, undefined);
    const joined = h.v1.map((x) => x.controllers.join(','));
    assert.deepEqual(joined, ['name=systemd', 'cpu,cpuacct', 'net_cls,net_prio', 'memory', 'hugetlb', 'freezer', 'cpuset', 'perf_event']);
  });

  it('finds a pure v2 host', () => {
    host = fakeHost({ 'sys/fs/cgroup/cgroup.controllers': 'cpuset cpu io memory pids\n' });
    const h = detectCgroupHost({ mountinfo: UNIFIED_MOUNTINFO, root: host.root, fs: host.fs });
    assert.equal(h.mode, 'unified');
    assert.deepEqual(h.v2?.controllers, ['cpuset', 'cpu', 'io', 'memory', 'pids']);
  });

  it('fails when nothing is mounted', () => {
    assert.throws(() => detectCgroupHost({ mountinfo: '22 1 0:5 / /proc rw - proc proc rw\n' }), isCode('ERR_CGROUP_NOT_MOUNTED'));
  });

  it('unescapes mount points and keeps the first mount of a hierarchy', () => {
    const text = '40 31 0:37 / /sys/fs/cgroup/my\\040mem rw shared:1 - cgroup cgroup rw,memory\n41 31 0:37 / /mnt/again rw - cgroup cgroup rw,memory\n';
    const entries = parseMountinfo(text);
    assert.equal(entries[0]?.mountPoint, '/sys/fs/cgroup/my mem');
    assert.deepEqual(detectCgroupHost({ mountinfo: text }).v1.map((h) => h.mountPoint), ['/sys/fs/cgroup/my mem']);
  });

  it('parses /proc/self/cgroup, v2 under the empty key', () => {
    const own = parseProcCgroup('12:cpu,cpuacct:/user.slice\n1:name=systemd:/user.slice/session-1.scope\n0::/user.slice/user-0.slice\n');
    assert.equal(own.get('cpu'), '/user.slice');
    assert.equal(own.get('cpuacct'), '/user.slice');
    assert.equal(own.get('name=systemd'), '/user.slice/session-1.scope');
    assert.equal(own.get(''), '/user.slice/user-0.slice');
  });
});

describe('cgroups path resolution', () => {
  it('accepts absolute and relative paths, normalising separators', () => {
    assert.deepEqual(parseCgroupsPath('/kapsel/abc'), { kind: 'absolute', path: 'kapsel/abc' });
    assert.deepEqual(parseCgroupsPath('a//b/./c/'), { kind: 'relative', path: 'a/b/c' });
  });

  it('refuses `..`, empty and root paths, and systemd paths with a clear code', () => {
    for (const bad of ['/a/../b', '..', 'a/..', '/../../etc']) assert.throws(() => parseCgroupsPath(bad), isCode('ERR_CGROUP_PATH'), bad);
    assert.throws(() => parseCgroupsPath(''), isCode('ERR_CGROUP_PATH'));
    assert.throws(() => parseCgroupsPath('/'), isCode('ERR_CGROUP_PATH'));
    assert.throws(() => parseCgroupsPath('system.slice:kapsel:abc'), isCode('ERR_CGROUP_SYSTEMD'));
  });

  it('resolves absolute paths under the mount point, relative ones under the own cgroup', () => {
    assert.equal(cgroupDirIn('/sys/fs/cgroup/memory', '/', '/x', parseCgroupsPath('/k/c')), '/sys/fs/cgroup/memory/k/c');
    assert.equal(cgroupDirIn('/sys/fs/cgroup/memory', '/', '/user.slice', parseCgroupsPath('k/c')), '/sys/fs/cgroup/memory/user.slice/k/c');
    // inside a container the mount exposes /docker/abc as its root
    assert.equal(cgroupDirIn('/sys/fs/cgroup', '/docker/abc', '/docker/abc/init', parseCgroupsPath('k')), '/sys/fs/cgroup/init/k');
    assert.throws(() => cgroupDirIn('/sys/fs/cgroup', '/docker/abc', '/other', parseCgroupsPath('k')), isCode('ERR_CGROUP_PATH'));
  });
});

describe('newCgroupManager', () => {
  let host: FakeHost | undefined;
  afterEach(() => host?.cleanup());

  it('resolves a relative path per hierarchy from /proc/self/cgroup', () => {
    host = fakeHost({ 'sys/fs/cgroup/unified/cgroup.controllers': '' });
    const m = newCgroupManager({
      cgroupsPath: 'k/c1',
      id: 'c1',
      root: host.root,
      mountinfo: HYBRID_MOUNTINFO,
      fs: host.fs,
      procSelfCgroup: '9:name=systemd:/svc\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n4:memory:/process_api/abc\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/svc\n',
    });
    const paths = m.paths();
    assert.equal(paths['memory'], join(host.root, 'sys/fs/cgroup/memory/process_api/abc/k/c1'));
    assert.equal(paths['cpu'], join(host.root, 'sys/fs/cgroup/cpu/k/c1'));
    assert.equal(paths['name=systemd'], join(host.root, 'sys/fs/cgroup/systemd/svc/k/c1'));
    assert.equal(paths['unified'], join(host.root, 'sys/fs/cgroup/unified/svc/k/c1'));
  });

  it('drives the cgroup2 mount of a hybrid host when asked for unified', () => {
    host = fakeHost({ 'sys/fs/cgroup/unified/cgroup.controllers': '' });
    const m = newCgroupManager({ cgroupsPath: '/k', id: 'k', mode: 'unified', root: host.root, mountinfo: HYBRID_MOUNTINFO, fs: host.fs });
    assert.equal(m.mode, 'unified');
    assert.deepEqual(m.paths(), { unified: join(host.root, 'sys/fs/cgroup/unified/k') });
    const legacy = newCgroupManager({ cgroupsPath: '/k', id: 'k', mode: 'legacy', root: host.root, mountinfo: HYBRID_MOUNTINFO, fs: host.fs });
    assert.equal(legacy.paths()['unified'], undefined);
  });

  it('refuses a mode the host cannot provide, and bad paths before probing', () => {
    assert.throws(() => newCgroupManager({ cgroupsPath: '/k', id: 'k', mode: 'unified', mountinfo: LEGACY_MOUNTINFO }), isCode('ERR_CGROUP_MODE'));
    assert.throws(() => newCgroupManager({ cgroupsPath: '/k', id: 'k', mode: 'hybrid', mountinfo: LEGACY_MOUNTINFO }), isCode('ERR_CGROUP_MODE'));
    assert.throws(() => newCgroupManager({ cgroupsPath: '/k/../..', id: 'k', mountinfo: '' }), isCode('ERR_CGROUP_PATH'));
    assert.throws(() => newCgroupManager({ cgroupsPath: 'user.slice:kapsel:k', id: 'k', mountinfo: '' }), isCode('ERR_CGROUP_SYSTEMD'));
  });
});
