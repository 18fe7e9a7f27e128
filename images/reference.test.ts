import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KapselError } from '../common/errors.js';
import { familiarReference, formatReference, normalizeReference, parseReference } from './reference.js';

const D = `sha256:${'ab'.repeat(32)}`;

test('normalises docker-style short names', () => {
  const cases: Array<[string, string]> = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['team/app', 'docker.io/team/app:latest'],
    ['index.docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/busybox:glibc', 'docker.io/library/busybox:glibc'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/app:v1', 'localhost:5000/app:v1'],
    ['127.0.0.1:5000/team/sub/app', '127.0.0.1:5000/team/sub/app:latest'],
    ['[::1]:5000/app:v1', '[::1]:5000/app:v1'],
    ['quay.io/org/app_x.y-z__w:V1.0-rc_1', 'quay.io/org/app_x.y-z__w:V1.0-rc_1'],
    // no slash: `localhost:5000` is a repository with a tag, as in docker
    ['localhost:5000', 'docker.io/library/localhost:5000'],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`],
    [`host:5000/app:v1@${D}`, `host:5000/app:v1@${D}`],
  ];
  for (const [input, want] of cases) assert.equal(normalizeReference(input), want, input);
});

test('parts are exposed separately', () => {
  assert.deepEqual(parseReference('localhost:5000/team/app:v2'), {
    registry: 'localhost:5000', repository: 'team/app', tag: 'v2',
  });
  const digestOnly = parseReference(`app@${D}`);
  assert.equal(digestOnly.tag, undefined);
  assert.equal(digestOnly.digest, D);
});

test('familiar form drops docker.io and library/', () => {
  assert.equal(familiarReference(parseReference('busybox')), 'busybox:latest');
  assert.equal(familiarReference(parseReference('team/app:v1')), 'team/app:v1');
  assert.equal(familiarReference(parseReference('localhost:5000/app')), 'localhost:5000/app:latest');
  assert.equal(formatReference(parseReference('busybox')), 'docker.io/library/busybox:latest');
});

test('invalid references are rejected with the reference and the rule in the message', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty reference/],
    ['Busybox', /must be lowercase/],
    ['docker.io/Team/app', /must be lowercase/],
    ['busybox:', /tag ``/],
    ['busybox:-x', /tag `-x`/],
    [`busybox:${'a'.repeat(129)}`, /tag/],
    ['busybox@sha256:abc', /digest `sha256:abc`/],
    [`busybox@sha256:${'AB'.repeat(32)}`, /64 lowercase hex/],
    [`busybox@sha512:${'ab'.repeat(64)}`, /only sha256/],
    ['busybox@latest', /algorithm:hex/],
    ['team//app', /component ``/],
    ['team/-app', /component `-app`/],
    ['team/app..x', /component `app..x`/],
    ['host_name.io:5000/app', /registry `host_name.io:5000`/],
    ['localhost:abc/app', /registry `localhost:abc`/],
    ['localhost:5000/', /repository name is empty/],
    ['ab'.repeat(32), /image id/],
    [`team/${'a'.repeat(260)}`, /longer than 255/],
  ];
  for (const [input, reason] of cases) {
    assert.throws(() => parseReference(input), (err: unknown) => {
      assert.ok(err instanceof KapselError, input);
      assert.equal(err.code, 'ERR_IMAGE_REFERENCE');
      assert.ok(err.message.startsWith(`invalid reference \`${input}\`: `), err.message);
      assert.match(err.message, reason, input);
      return true;
    });
  }
});
