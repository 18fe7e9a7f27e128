import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultSpec } from '../oci/default-spec.js';
import { DOCKER_DEFAULT_CAPS, applyHostConfig, hostConfigFrom, parseRestartPolicy, readEnvFiles } from './run-config.js';

const base = { image: 'busybox', args: [] as string[] };

test('restart policies: no, always, unless-stopped, on-failure[:N]; anything else is a usage error', () => {
  assert.deepEqual(parseRestartPolicy(undefined), { name: 'no', maximumRetryCount: 0 });
  assert.deepEqual(parseRestartPolicy('always'), { name: 'always', maximumRetryCount: 0 });
  assert.deepEqual(parseRestartPolicy('on-failure:2'), { name: 'on-failure', maximumRetryCount: 2 });
  assert.throws(() => parseRestartPolicy('always:3'), /invalid restart policy `always:3`/);
  assert.throws(() => parseRestartPolicy('sometimes'), /invalid restart policy/);
});

test('bridge networks take -p and --ip; other modes refuse them; what is not built yet gives clear errors', () => {
  const hc = hostConfigFrom({ ...base, network: 'bridge', publish: ['127.0.0.1:8080:80', '53:53/udp'], ip: '10.213.1.9' });
  assert.equal(hc.networkMode, 'bridge');
  assert.deepEqual(hc.portBindings, [{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }, { hostIp: '', hostPort: 53, containerPort: 53, protocol: 'udp' }]);
  assert.equal(hc.ipAddress, '10.213.1.9');
  assert.equal(hostConfigFrom(base).networkMode, 'bridge', 'the default network is the bridge, as in docker');
  assert.equal(hostConfigFrom({ ...base, publish: ['8080:80'] }).portBindings?.length, 1);
  assert.throws(() => hostConfigFrom({ ...base, network: 'none', publish: ['8080:80'] }), /-p\/--publish needs a bridge network, not --network none/);
  assert.throws(() => hostConfigFrom({ ...base, network: 'host', ip: '10.0.0.2' }), /--ip needs a bridge network/);
  assert.throws(() => hostConfigFrom({ ...base, network: 'bridge', publish: ['80'] }), /invalid publish spec `80`/);
  assert.equal(hostConfigFrom({ ...base, network: 'container:abc' }).networkMode, 'container:abc');
  assert.throws(() => hostConfigFrom({ ...base, network: 'container:', }), /needs a container name/);
  assert.throws(() => hostConfigFrom({ ...base, network: 'container:abc', publish: ['1:1'] }), /-p\/--publish needs a bridge network/);
  assert.equal(hostConfigFrom({ ...base, isolation: 'vm' }).isolation, 'vm');
  assert.equal(hostConfigFrom({ ...base, isolation: 'vm' }).networkMode, 'none', 'a VM container has no network device yet');
  assert.equal(hostConfigFrom({ ...base, isolation: 'default' }).isolation, undefined);
  assert.throws(() => hostConfigFrom({ ...base, isolation: 'vm', network: 'bridge' }), /--isolation vm: --network bridge not supported/);
  assert.throws(() => hostConfigFrom({ ...base, isolation: 'hyperv' }), /invalid --isolation `hyperv`/);
  assert.throws(() => hostConfigFrom({ ...base, securityOpt: ['apparmor=x'] }), /invalid --security-opt/);
  assert.throws(() => hostConfigFrom({ ...base, stopSignal: 'SIGNOPE' }), /invalid signal/);
  assert.equal(hostConfigFrom({ ...base, network: 'host' }).networkMode, 'host');
});

test('--isolation vm: the runtime\'s annotation and OCI resources in the spec; VM-less flags refused', () => {
  const spec = defaultSpec();
  applyHostConfig(spec, hostConfigFrom({ ...base, isolation: 'vm', memory: '448m', cpus: '2' }));
  assert.equal(spec.annotations?.['run.kapsel.isolation'], 'vm');
  assert.equal(spec.linux?.resources?.memory?.limit, 448 * 1024 * 1024);
  assert.equal(spec.linux?.resources?.cpu?.quota, 200_000);
  const plain = defaultSpec();
  applyHostConfig(plain, hostConfigFrom({ ...base, isolation: 'container' }));
  assert.equal(plain.annotations?.['run.kapsel.isolation'], undefined);
  for (const [flags, what] of [[{ volumes: ['/a:/b'] }, /-v\/--volume/], [{ tmpfs: ['/run'] }, /--tmpfs/], [{ init: true }, /--init/], [{ tty: true }, /-t\/--tty/], [{ network: 'host' }, /--network host/]] as const) {
    assert.throws(() => hostConfigFrom({ ...base, isolation: 'vm', ...flags }), what);
  }
});

test('--init: kapsel-init bound read-only at /dev/init runs the command as its child', () => {
  const spec = defaultSpec();
  spec.process!.args = ['sh', '-c', 'true'];
  const hc = hostConfigFrom({ ...base, init: true });
  assert.equal(hc.init, true);
  assert.throws(() => applyHostConfig(defaultSpec(), hc), /--init: no kapsel-init binary/);
  applyHostConfig(spec, hc, '/opt/kapsel-init');
  assert.deepEqual(spec.process!.args, ['/dev/init', '--', 'sh', '-c', 'true']);
  assert.deepEqual(spec.mounts!.at(-1), { destination: '/dev/init', type: 'bind', source: '/opt/kapsel-init', options: ['bind', 'ro', 'nosuid', 'nodev'] });
});

test('limits become runtime-spec resources (docker semantics for swap and --cpus)', () => {
  const spec = defaultSpec();
  applyHostConfig(spec, hostConfigFrom({ ...base, memory: '64m', cpus: '1.5', cpuShares: 512, cpusetCpus: '0', pidsLimit: 20 }));
  const r = spec.linux!.resources!;
  assert.equal(r.memory!.limit, 64 * 1024 * 1024);
  assert.equal(r.memory!.swap, 128 * 1024 * 1024, 'without --memory-swap: as much swap as memory');
  assert.deepEqual({ quota: r.cpu!.quota, period: r.cpu!.period, shares: r.cpu!.shares, cpus: r.cpu!.cpus }, { quota: 150_000, period: 100_000, shares: 512, cpus: '0' });
  assert.deepEqual(r.pids, { limit: 20 });
  assert.throws(() => applyHostConfig(defaultSpec(), hostConfigFrom({ ...base, memorySwap: '1g' })), /--memory-swap needs --memory/);
});

test('capabilities start from docker\'s 14; --cap-add/--cap-drop and --privileged change them', () => {
  const spec = defaultSpec();
  applyHostConfig(spec, hostConfigFrom({ ...base, capAdd: ['net_admin'], capDrop: ['CAP_CHOWN', 'kill'] }));
  const caps = spec.process!.capabilities!.bounding!;
  assert.ok(caps.includes('CAP_NET_ADMIN'));
  assert.ok(!caps.includes('CAP_CHOWN') && !caps.includes('CAP_KILL'));
  assert.equal(caps.length, DOCKER_DEFAULT_CAPS.length - 1);
  assert.equal(spec.process!.noNewPrivileges, false);
  const priv = defaultSpec();
  applyHostConfig(priv, hostConfigFrom({ ...base, privileged: true, securityOpt: ['no-new-privileges'] }));
  assert.ok(priv.process!.capabilities!.bounding!.includes('CAP_SYS_ADMIN'));
  assert.deepEqual(priv.linux!.maskedPaths, []);
  assert.equal(priv.process!.noNewPrivileges, true);
});

test('-v binds (ro/rw), --tmpfs mounts, --network host drops the network namespace', () => {
  const spec = defaultSpec();
  applyHostConfig(spec, hostConfigFrom({ ...base, volumes: ['/srv/data:/data:ro', '/tmp:/scratch'], tmpfs: ['/run:size=1m'], network: 'host' }));
  const added = spec.mounts!.slice(-3);
  assert.deepEqual(added[0], { destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind', 'ro'] });
  assert.deepEqual(added[1], { destination: '/scratch', type: 'bind', source: '/tmp', options: ['rbind', 'rw'] });
  assert.deepEqual(added[2], { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'size=1m'] });
  assert.ok(!spec.linux!.namespaces!.some((n) => n.type === 'network'));
  assert.throws(() => applyHostConfig(defaultSpec(), hostConfigFrom({ ...base, volumes: ['/a:relative'] })), /invalid volume/);
  assert.throws(() => applyHostConfig(defaultSpec(), hostConfigFrom({ ...base, volumes: ['/a:/b:rx'] })), /invalid volume mode `rx`/);
  assert.throws(() => applyHostConfig(defaultSpec(), hostConfigFrom({ ...base, volumes: ['named:/b'] })), /named volumes are not yet supported/);
});

test('--env-file: comments and blank lines skipped, a bare NAME takes our value', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kapsel-envfile-'));
  try {
    const f = join(dir, 'env');
    writeFileSync(f, '# comment\nA=1\n\nB=two words\nKAPSEL_TEST_BARE\n');
    process.env['KAPSEL_TEST_BARE'] = 'here';
    assert.deepEqual(readEnvFiles([f]), ['A=1', 'B=two words', 'KAPSEL_TEST_BARE=here']);
    assert.throws(() => readEnvFiles([join(dir, 'missing')]), /read env file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--log-opt max-size and max-file (json-file rotation)', async () => {
  const { parseLogOpts } = await import('./run-config.js');
  assert.deepEqual(parseLogOpts([]), { maxBytes: 10 * 1024 * 1024, maxFiles: 2 });
  assert.deepEqual(parseLogOpts(['max-size=2k', 'max-file=3']), { maxBytes: 2048, maxFiles: 3 });
  assert.throws(() => parseLogOpts(['mode=non-blocking']), /invalid --log-opt `mode=non-blocking`/);
  assert.throws(() => parseLogOpts(['max-file=0']), /max-file is 1 to 9/);
  assert.throws(() => parseLogOpts(['max-size=10']), /at least 1k/);
});
