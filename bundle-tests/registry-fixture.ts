/**
 * A real registry for tests and the pull bench: Debian's `docker-registry` (distribution 2.8)
 * on 127.0.0.1 at a free port with a temp storage directory, optionally behind htpasswd basic
 * auth or token auth; plus OCI layouts built locally (single- and multi-platform) and pushed
 * with `skopeo copy`. Everything lives under one tmpdir per registry; `stop()` kills the
 * registry by the pid it started and removes the tmpdir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { buildBusyboxImage } from './oci-image.js';

export interface ExecResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** spawn (not spawnSync: a token server in this process must keep answering) and collect output. */
export function exec(cmd: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    child.stdin.on('error', () => undefined); // a child that never reads stdin
    child.stdin.end(opts.input ?? '');
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export type RegistryAuth =
  | { readonly kind: 'none' }
  | { readonly kind: 'htpasswd'; readonly username: string; readonly password: string }
  | { readonly kind: 'token'; readonly realm: string; readonly service: string; readonly issuer: string; readonly rootCertBundle: string };

export interface TestRegistry {
  /** `127.0.0.1:PORT`. */
  readonly host: string;
  readonly dir: string;
  /** The storage root (`<dir>/data`). */
  readonly dataDir: string;
  readonly pid: number;
  /** The file of a blob in the registry's storage (filesystem driver layout). */
  blobFile(digest: string): string;
  stop(): Promise<void>;
}

/** `tls`: serve HTTPS with this certificate and key (PEM files). */
export async function startRegistry(auth: RegistryAuth = { kind: 'none' }, tls?: { cert: string; key: string }): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'kapsel-registry-'));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const port = await freePort();
  let authYaml = '';
  if (auth.kind === 'htpasswd') {
    const r = await exec('htpasswd', ['-Bbn', auth.username, auth.password]);
    if (r.status !== 0) throw new Error(`htpasswd: ${r.stderr}`);
    writeFileSync(join(dir, 'htpasswd'), r.stdout.trim() + '\n');
    authYaml = `auth:\n  htpasswd:\n    realm: kapsel-test\n    path: ${join(dir, 'htpasswd')}\n`;
  } else if (auth.kind === 'token') {
    authYaml = `auth:\n  token:\n    realm: ${auth.realm}\n    service: ${auth.service}\n    issuer: ${auth.issuer}\n    rootcertbundle: ${auth.rootCertBundle}\n`;
  }
  const config = join(dir, 'config.yml');
  writeFileSync(config, `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dataDir}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${tls !== undefined ? `  tls:\n    certificate: ${tls.cert}\n    key: ${tls.key}\n` : ''}${authYaml}`);
  const logFile = join(dir, 'registry.log');
  const child: ChildProcess = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  const log: Buffer[] = [];
  child.stderr?.on('data', (b: Buffer) => log.push(b));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const host = `127.0.0.1:${port}`;
  const registry: TestRegistry = {
    host,
    dir,
    dataDir,
    pid: child.pid ?? -1,
    blobFile: (digest) => {
      const hex = digest.replace(/^sha256:/, '');
      return join(dataDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        process.kill(child.pid, 'SIGTERM');
        const timer = setTimeout(() => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      writeFileSync(logFile, Buffer.concat(log));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  // wait until /v2/ answers (200 or 401)
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${Buffer.concat(log).toString()}`);
    const ok = await probe(`${tls !== undefined ? 'https' : 'http'}://${host}/v2/`);
    if (ok) break;
    if (i > 100) {
      await registry.stop();
      throw new Error(`docker-registry on ${host} did not answer: ${Buffer.concat(log).toString()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return registry;
}

/** True when `url` answers 200 or 401 (TLS not verified). */
async function probe(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const callback = (res: IncomingMessage): void => {
      res.resume();
      resolve(res.statusCode === 200 || res.statusCode === 401);
    };
    const req = url.startsWith('https:') ? httpsRequest(url, { rejectUnauthorized: false }, callback) : httpRequest(url, callback);
    req.on('error', () => resolve(false));
    req.end();
  });
}

// ---- OCI layouts ----

export interface LayoutImage {
  readonly platform: { os: string; architecture: string; variant?: string };
  /** Layer tars (uncompressed), lowest first; stored gzip-compressed, since skopeo would
   * compress uncompressed layers on push and change their digests. */
  readonly layers: readonly Buffer[];
  readonly cmd?: readonly string[];
}

export interface BuiltLayout {
  readonly dir: string;
  readonly tag: string;
  /** The digest of what the tag names (a manifest, or an index for several images). */
  readonly digest: string;
  readonly manifestDigests: readonly string[];
  readonly layerDigests: readonly (readonly string[])[];
}

export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Writes an OCI layout at `dir` whose `tag` names one manifest, or an index of several. */
export function writeLayout(dir: string, tag: string, images: readonly LayoutImage[]): BuiltLayout {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (data: Buffer): { digest: string; size: number } => {
    const digest = sha256(data);
    writeFileSync(join(blobs, digest.slice(7)), data);
    return { digest, size: data.length };
  };
  const manifests = images.map((image) => {
    const layers = image.layers.map((l) => ({ ...put(gzipSync(l, { level: 1 })), diffId: sha256(l) }));
    const config = put(Buffer.from(JSON.stringify({
      architecture: image.platform.architecture,
      os: image.platform.os,
      ...(image.platform.variant !== undefined && { variant: image.platform.variant }),
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: image.cmd ?? ['sh'], WorkingDir: '/' },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    })));
    const manifest = put(Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
    })));
    return { manifest, platform: image.platform, layers: layers.map((l) => l.digest) };
  });
  let top: { mediaType: string; digest: string; size: number };
  const only = manifests[0];
  if (manifests.length === 1 && only !== undefined) {
    top = { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...only.manifest };
  } else {
    const index = put(Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: manifests.map((m) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m.manifest, platform: m.platform })),
    })));
    top = { mediaType: 'application/vnd.oci.image.index.v1+json', ...index };
  }
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  }));
  return { dir, tag, digest: top.digest, manifestDigests: manifests.map((m) => m.manifest.digest), layerDigests: manifests.map((m) => m.layers) };
}

/** The busybox rootfs layer of bundle-tests/oci-image.ts, as bytes. */
export async function busyboxLayer(): Promise<Buffer> {
  const image = buildBusyboxImage();
  try {
    const dir = join(image.archive, '..', 'x');
    mkdirSync(dir);
    const r = await exec('tar', ['-C', dir, '-xf', image.archive]);
    if (r.status !== 0) throw new Error(`tar: ${r.stderr}`);
    const manifest = JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', image.manifestDigest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
    const layer = manifest.layers[0];
    if (layer === undefined) throw new Error('busybox image without a layer');
    return readFileSync(join(dir, 'blobs', 'sha256', layer.digest.slice(7)));
  } finally {
    image.cleanup();
  }
}

/** A one-file layer tar: `path` containing `text` (GNU tar, reproducible). */
export async function fileLayer(path: string, text: string): Promise<Buffer> {
  const work = mkdtempSync(join(tmpdir(), 'kapsel-layer-'));
  try {
    const root = join(work, 'root');
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
    const r = await exec('tar', ['--sort=name', '--numeric-owner', '--owner=0', '--group=0', '--mtime=@0', '-C', root, '-cf', join(work, 'l.tar'), '.']);
    if (r.status !== 0) throw new Error(`tar: ${r.stderr}`);
    return readFileSync(join(work, 'l.tar'));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** `skopeo copy [--all] oci:DIR:TAG docker://HOST/REPO`, TLS not verified. */
export async function pushLayout(layout: BuiltLayout, target: string, opts: { creds?: string; all?: boolean } = {}): Promise<void> {
  const args = ['copy', '--quiet', '--dest-tls-verify=false', ...(opts.all === true ? ['--all'] : []), ...(opts.creds !== undefined ? ['--dest-creds', opts.creds] : []),
    `oci:${layout.dir}:${layout.tag}`, `docker://${target}`];
  const r = await exec('skopeo', args);
  if (r.status !== 0) throw new Error(`skopeo ${args.join(' ')}: ${r.stderr}`);
}

// ---- a token server (distribution docs/spec/auth/token.md, jwt.md) ----

export interface TokenServer {
  /** The realm URL registries send clients to. */
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** The certificate the registry trusts (`rootcertbundle`). */
  readonly certFile: string;
  /** Requests answered so far, and the scopes asked for. */
  readonly requests: { scope: string | null; user: string | null }[];
  close(): Promise<void>;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/**
 * Issues RS256 JWTs for `username`/`password` (anonymous requests are refused), granting the
 * actions asked for in `scope`. The signing certificate is a self-signed one made with openssl
 * in `dir`; the token header carries it as `x5c`, which the registry checks against its
 * rootcertbundle.
 */
export async function startTokenServer(dir: string, username: string, password: string): Promise<TokenServer> {
  const { createServer: createHttpServer } = await import('node:http');
  const { createSign, X509Certificate, randomBytes } = await import('node:crypto');
  const keyFile = join(dir, 'token-key.pem');
  const certFile = join(dir, 'token-cert.pem');
  const r = await exec('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=kapsel-test-token-issuer']);
  if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
  const key = readFileSync(keyFile);
  const certDer = new X509Certificate(readFileSync(certFile)).raw;
  const service = 'kapsel-test-registry';
  const issuer = 'kapsel-test-issuer';
  const requests: { scope: string | null; user: string | null }[] = [];
  const server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const authz = req.headers.authorization ?? '';
    const basic = authz.startsWith('Basic ') ? Buffer.from(authz.slice(6), 'base64').toString() : null;
    requests.push({ scope: url.searchParams.get('scope'), user: basic === null ? null : basic.slice(0, basic.indexOf(':')) });
    if (basic !== `${username}:${password}`) {
      res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}');
      return;
    }
    const access = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '').map((s) => {
      const [type, ...rest] = s.split(':');
      const actions = (rest.pop() ?? '').split(',');
      return { type, name: rest.join(':'), actions };
    });
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')] }));
    const claims = b64url(JSON.stringify({ iss: issuer, sub: username, aud: service, exp: now + 600, nbf: now - 60, iat: now, jti: randomBytes(8).toString('hex'), access }));
    const signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(key);
    // only `access_token` (OAuth 2 name): clients must accept it as well as docker's `token`
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ access_token: `${header}.${claims}.${b64url(signature)}`, expires_in: 600 }));
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    resolve(typeof a === 'object' && a !== null ? a.port : 0);
  }));
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certFile,
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
