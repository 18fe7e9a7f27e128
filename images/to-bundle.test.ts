import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KapselError } from '../common/errors.js';
import { validateSpec } from '../oci/validate.js';
import type { ImageConfig } from './oci-types.js';
import { parseGroup, parsePasswd } from './passwd.js';
import { resolveUser } from './image-user.js';
import { ANNOTATION_VOLUMES, imageToSpec } from './to-bundle.js';

const passwd = parsePasswd([
  'root:x:0:0:root:/root:/bin/sh',
  '# a comment',
  '',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'app:x:1000:1001:App User,,,:/home/app:/bin/sh',
  'broken:x:abc:1:bad uid:/:/bin/sh',
  '+nisuser',
  'dup:x:1000:5:second line for uid 1000:/dup:/bin/sh',
].join('\n'));
const group = parseGroup([
  'root:x:0:root',
  'wheel:x:10:root,app',
  'app:x:1001:',
  'docker:x:999:app, other',
  'staff:x:50:',
].join('\r\n'));

const image: ImageConfig = {
  architecture: 'amd64',
  os: 'linux',
  created: '2024-05-01T00:00:00Z',
  author: 'someone',
  config: {
    User: 'app',
    Env: ['PATH=/opt/bin:/usr/bin', 'LANG=C.UTF-8'],
    Entrypoint: ['/entry.sh'],
    Cmd: ['serve', '--port', '80'],
    WorkingDir: '/srv',
    ExposedPorts: { '80/tcp': {}, '53/udp': {} },
    Volumes: { '/data': {}, '/cache': {} },
    StopSignal: 'SIGQUIT',
    Labels: { 'org.opencontainers.image.created': 'label wins', maintainer: 'me' },
  },
  rootfs: { type: 'layers', diff_ids: [] },
};

test('passwd and group parsing skips comments, NIS and malformed lines', () => {
  assert.deepEqual(passwd.map((p) => p.name), ['root', 'daemon', 'app', 'dup']);
  assert.deepEqual(passwd[2], { name: 'app', uid: 1000, gid: 1001, home: '/home/app', shell: '/bin/sh' });
  assert.deepEqual(group.find((g) => g.name === 'docker')?.members, ['app', 'other']);
});

test('a full image config becomes a valid runtime-spec config', () => {
  const spec = imageToSpec(image, { image: 'example:1', passwd, group });
  assert.deepEqual(validateSpec(spec, { requireProcess: true }), []);
  assert.deepEqual(spec.process?.args, ['/entry.sh', 'serve', '--port', '80']);
  assert.deepEqual(spec.process?.env, ['PATH=/opt/bin:/usr/bin', 'LANG=C.UTF-8', 'HOME=/home/app']);
  assert.equal(spec.process?.cwd, '/srv');
  assert.deepEqual(spec.process?.user, { uid: 1000, gid: 1001, additionalGids: [10, 999] });
  assert.equal(spec.process?.terminal, false);
  assert.deepEqual(spec.root, { path: 'rootfs', readonly: false });
  assert.deepEqual(spec.annotations, {
    'org.opencontainers.image.os': 'linux',
    'org.opencontainers.image.architecture': 'amd64',
    'org.opencontainers.image.author': 'someone',
    'org.opencontainers.image.created': 'label wins',
    'org.opencontainers.image.stopSignal': 'SIGQUIT',
    'org.opencontainers.image.exposedPorts': '80/tcp,53/udp',
    [ANNOTATION_VOLUMES]: '/data,/cache',
    maintainer: 'me',
  });
});

test('overrides: args replace Cmd, an entrypoint drops Cmd, env by name, workdir, user, terminal', () => {
  const withArgs = imageToSpec(image, { image: 'x', passwd, group, args: ['sh', '-c', 'id'] });
  assert.deepEqual(withArgs.process?.args, ['/entry.sh', 'sh', '-c', 'id']);
  const withEntrypoint = imageToSpec(image, { image: 'x', passwd, group, entrypoint: ['/bin/sh'] });
  assert.deepEqual(withEntrypoint.process?.args, ['/bin/sh']);
  const cleared = imageToSpec(image, { image: 'x', passwd, group, entrypoint: [], args: ['ls'] });
  assert.deepEqual(cleared.process?.args, ['ls']);
  const more = imageToSpec(image, {
    image: 'x', passwd, group, env: ['LANG=de_DE', 'NEW=1', 'HOME=/custom'], workdir: '/tmp', user: '0:0', terminal: true, hostname: 'box',
    annotations: { maintainer: 'caller wins' },
  });
  assert.deepEqual(more.process?.env, ['PATH=/opt/bin:/usr/bin', 'LANG=de_DE', 'TERM=xterm', 'NEW=1', 'HOME=/custom']);
  assert.equal(more.process?.cwd, '/tmp');
  assert.deepEqual(more.process?.user, { uid: 0, gid: 0 });
  assert.equal(more.process?.terminal, true);
  assert.equal(more.hostname, 'box');
  assert.equal(more.annotations?.['maintainer'], 'caller wins');
  assert.throws(() => imageToSpec(image, { image: 'x', passwd, group, workdir: 'rel' }), /working directory `rel`: must be an absolute path/);
  assert.throws(() => imageToSpec(image, { image: 'x', passwd, group, env: ['NOVALUE'] }), /`NOVALUE`: must be NAME=VALUE/);
});

test('a bare image gets the default PATH, HOME=/, cwd / and root', () => {
  const spec = imageToSpec({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'], WorkingDir: 'rel/dir' }, rootfs: { type: 'layers', diff_ids: [] } }, { image: 'bare' });
  assert.deepEqual(spec.process?.env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/']);
  assert.equal(spec.process?.cwd, '/rel/dir');
  assert.deepEqual(spec.process?.user, { uid: 0, gid: 0 });
  assert.deepEqual(spec.annotations, { 'org.opencontainers.image.os': 'linux', 'org.opencontainers.image.architecture': 'amd64' });
  assert.deepEqual(validateSpec(spec, { requireProcess: true }), []);
  const rootless = imageToSpec({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [] } }, { image: 'bare', rootless: true });
  assert.ok(rootless.linux?.namespaces?.some((n) => n.type === 'user'));
});

test('no command is an error naming the image', () => {
  assert.throws(() => imageToSpec({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }, { image: 'docker.io/library/scratchy:1' }), (err: unknown) => {
    assert.ok(err instanceof KapselError);
    assert.equal(err.code, 'ERR_IMAGE_NO_COMMAND');
    assert.match(err.message, /^image `docker\.io\/library\/scratchy:1` has no command/);
    return true;
  });
});

test('user forms resolve like docker (moby/sys/user), additional gids as conversion.md says', () => {
  const cases: Array<[string | undefined, { uid: number; gid: number; additionalGids: number[]; home: string }]> = [
    [undefined, { uid: 0, gid: 0, additionalGids: [0, 10], home: '/root' }],
    ['app', { uid: 1000, gid: 1001, additionalGids: [10, 999], home: '/home/app' }],
    ['1000', { uid: 1000, gid: 1001, additionalGids: [], home: '/home/app' }], // first line for uid 1000
    ['4242', { uid: 4242, gid: 0, additionalGids: [], home: '/' }],
    ['4242:4343', { uid: 4242, gid: 4343, additionalGids: [], home: '/' }],
    ['app:staff', { uid: 1000, gid: 50, additionalGids: [], home: '/home/app' }],
    ['app:0', { uid: 1000, gid: 0, additionalGids: [], home: '/home/app' }],
    ['daemon:7777', { uid: 1, gid: 7777, additionalGids: [], home: '/usr/sbin' }],
    ['1:wheel', { uid: 1, gid: 10, additionalGids: [], home: '/usr/sbin' }],
  ];
  for (const [spec, want] of cases) assert.deepEqual(resolveUser(spec, passwd, group), want, String(spec));
});

test('user errors name the user spec and the reason', () => {
  const cases: Array<[string, RegExp]> = [
    ['nobody', /^user `nobody`: no user `nobody` in the image's \/etc\/passwd$/],
    ['app:nogroup', /^user `app:nogroup`: no group `nogroup` in the image's \/etc\/group$/],
    ['99999999999', /uid 99999999999 is out of range/],
    ['1:2147483648', /gid 2147483648 is out of range/],
    [':1', /must be user, user:group/],
    ['app:', /must be user, user:group/],
  ];
  for (const [spec, want] of cases) {
    assert.throws(() => resolveUser(spec, passwd, group), (err: unknown) => {
      assert.ok(err instanceof KapselError);
      assert.equal(err.code, 'ERR_IMAGE_USER');
      assert.match(err.message, want);
      return true;
    });
  }
  assert.throws(() => resolveUser('app', undefined, undefined), /has no \/etc\/passwd/);
  assert.deepEqual(resolveUser('5:6', undefined, undefined), { uid: 5, gid: 6, additionalGids: [], home: '/' });
  assert.deepEqual(resolveUser(undefined, undefined, undefined), { uid: 0, gid: 0, additionalGids: [], home: '/' });
});
