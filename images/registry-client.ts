/**
 * A client of the OCI distribution API (distribution-spec spec.md "Pull"): `GET /v2/`,
 * `GET /v2/<name>/manifests/<reference>`, `GET /v2/<name>/blobs/<digest>`.
 *
 * Authentication follows docker's token flow (distribution docs/spec/auth/token.md): a request
 * answered 401 carries `WWW-Authenticate`; for `Bearer realm=…,service=…,scope=…` the client
 * GETs the realm with `service` and `scope` (and basic credentials when it has them) and
 * retries with `Authorization: Bearer <token|access_token>`; for `Basic` it retries with the
 * credentials. Tokens are cached per scope for the client's life (one pull). The client pings
 * `/v2/` once first, which also picks the scheme: HTTPS, or for an insecure registry HTTPS
 * without certificate checks and then plain HTTP when TLS fails (docker's fallback).
 */

import { KapselError, errorMessage } from '../common/errors.js';
import type { Credentials } from './auth-config.js';
import { MEDIA_TYPE } from './oci-types.js';
import { parseWwwAuthenticate, type AuthChallenge } from './registry-challenge.js';
import { headerValue, httpRequest, readBody, type HttpResponse } from './registry-http.js';
import { DEFAULT_REGISTRY } from './reference.js';

/** What `GET manifests` accepts: OCI and Docker schema 2, single-platform and multi-platform. */
export const MANIFEST_ACCEPT = [MEDIA_TYPE.ociIndex, MEDIA_TYPE.ociManifest, MEDIA_TYPE.dockerManifestList, MEDIA_TYPE.dockerManifest].join(', ');
/** containerd's limit for a manifest or index. */
export const MANIFEST_LIMIT_BYTES = 4 * 1024 * 1024;
const ERROR_BODY_LIMIT_BYTES = 64 * 1024;
const USER_AGENT = 'kapsel/0.1.0';

export interface RegistryClientOptions {
  /** `host[:port]` as in a reference; `docker.io` means Docker Hub. */
  readonly registry: string;
  /** Allow plain HTTP and unverified TLS (`--insecure-registry`, loopback). */
  readonly insecure?: boolean;
  readonly credentials?: Credentials | undefined;
  readonly signal?: AbortSignal;
}

export interface FetchedManifest {
  readonly bytes: Buffer;
  /** The Content-Type the registry sent, without parameters. */
  readonly contentType: string | undefined;
  /** `Docker-Content-Digest`, when sent. */
  readonly headerDigest: string | undefined;
}

export class RegistryClient {
  readonly registry: string;
  private readonly insecure: boolean;
  private readonly credentials: Credentials | undefined;
  private readonly signal: AbortSignal | undefined;
  private base: URL | undefined;
  private challenge: AuthChallenge | undefined;
  private readonly tokens = new Map<string, string>();

  constructor(opts: RegistryClientOptions) {
    this.registry = opts.registry;
    this.insecure = opts.insecure ?? false;
    this.credentials = opts.credentials;
    this.signal = opts.signal;
  }

  /** The host the API lives on (Docker Hub's is not `docker.io`). */
  get host(): string {
    return this.registry === DEFAULT_REGISTRY ? 'registry-1.docker.io' : this.registry;
  }

  /**
   * Checks `credentials` against the registry: a registry without authentication accepts any;
   * throws ERR_REGISTRY_AUTH when they are refused.
   */
  async login(): Promise<void> {
    await this.ensureBase();
    const challenge = this.challenge;
    if (challenge === undefined) return;
    if (challenge.scheme === 'bearer') {
      await this.fetchToken(challenge, undefined);
      return;
    }
    const res = await this.send(new URL('/v2/', this.base), this.basicHeader(), false);
    res.body.resume();
    if (res.status === 401) throw this.authError('login', 'wrong username or password');
    if (res.status !== 200) throw await this.httpError(res, `log in to ${this.registry}`);
  }

  /** `GET /v2/<repo>/manifests/<reference>` (a tag or a digest); bytes unverified. */
  async getManifest(repository: string, reference: string): Promise<FetchedManifest> {
    const what = `${this.registry}/${repository}${reference.includes(':') ? '@' : ':'}${reference}`;
    const res = await this.get(`/v2/${repository}/manifests/${reference}`, repository, { Accept: MANIFEST_ACCEPT }, false);
    if (res.status === 404) throw await this.notFound(res, what);
    if (res.status !== 200) throw await this.httpError(res, `get manifest of \`${what}\``);
    const bytes = await readBody(res, MANIFEST_LIMIT_BYTES);
    const contentType = headerValue(res.headers, 'content-type')?.split(';')[0]?.trim();
    return { bytes, contentType, headerDigest: headerValue(res.headers, 'docker-content-digest') };
  }

  /** `GET /v2/<repo>/blobs/<digest>`, redirects followed; the caller consumes the body. */
  async openBlob(repository: string, digest: string): Promise<HttpResponse> {
    const what = `blob ${digest} of \`${this.registry}/${repository}\``;
    const res = await this.get(`/v2/${repository}/blobs/${digest}`, repository, {}, true);
    if (res.status === 404) {
      await readBody(res, ERROR_BODY_LIMIT_BYTES).catch(() => undefined);
      throw new KapselError('ERR_IMAGE_BLOB_MISSING', `${what}: the registry does not have it (404)`);
    }
    if (res.status !== 200) throw await this.httpError(res, `get ${what}`);
    return res;
  }

  // ---- requests and authentication ----

  private async get(path: string, repository: string, headers: Record<string, string>, followRedirects: boolean): Promise<HttpResponse> {
    const base = await this.ensureBase();
    const url = new URL(path, base);
    const scope = `repository:${repository}:pull`;
    let res = await this.send(url, { ...headers, ...(await this.authHeader(scope)) }, followRedirects);
    if (res.status !== 401) return res;
    // the registry wants (other) credentials: learn its challenge, authenticate once more
    const challenge = this.challengeOf(res);
    await readBody(res, ERROR_BODY_LIMIT_BYTES).catch(() => undefined);
    if (challenge === undefined) throw this.authError(`pull ${repository}`, 'the registry answered 401 without a usable WWW-Authenticate challenge');
    this.challenge = challenge;
    this.tokens.delete(scope);
    res = await this.send(url, { ...headers, ...(await this.authHeader(scope)) }, followRedirects);
    if (res.status === 401 || res.status === 403) {
      const detail = await this.errorDetail(res);
      throw this.authError(`pull ${this.registry}/${repository}`, `access denied${detail !== '' ? ` (${detail})` : ''}`);
    }
    return res;
  }

  private send(url: URL, headers: Record<string, string>, followRedirects: boolean): Promise<HttpResponse> {
    return httpRequest(url, {
      headers: { 'User-Agent': USER_AGENT, ...headers },
      insecureTls: this.insecure,
      followRedirects,
      ...(this.signal !== undefined && { signal: this.signal }),
    }).catch((err: unknown) => {
      if (err instanceof KapselError) throw err;
      throw new KapselError('ERR_REGISTRY_UNREACHABLE', `registry ${this.registry}: GET ${url.href}: ${errorMessage(err)}`, { cause: err });
    });
  }

  /** Pings `/v2/` to pick the scheme and learn the challenge. */
  private async ensureBase(): Promise<URL> {
    if (this.base !== undefined) return this.base;
    const schemes = this.insecure ? ['https', 'http'] : ['https'];
    let lastError: unknown;
    for (const scheme of schemes) {
      const base = new URL(`${scheme}://${this.host}/`);
      let res: HttpResponse;
      try {
        res = await this.send(new URL('/v2/', base), {}, false);
      } catch (err) {
        lastError = err;
        continue;
      }
      await readBody(res, ERROR_BODY_LIMIT_BYTES).catch(() => undefined);
      if (res.status === 401) this.challenge = this.challengeOf(res);
      else if (res.status !== 200) {
        throw new KapselError('ERR_REGISTRY_HTTP', `registry ${this.registry}: GET ${base.href}v2/ answered ${res.status}: not an OCI distribution registry?`);
      }
      this.base = base;
      return base;
    }
    const hint = this.insecure ? undefined : `if ${this.registry} serves plain HTTP, pass --insecure-registry ${this.registry}`;
    const message = lastError instanceof Error ? lastError.message : `registry ${this.registry}: unreachable`;
    throw new KapselError('ERR_REGISTRY_UNREACHABLE', message, { cause: lastError, ...(hint !== undefined && { hint }) });
  }

  private challengeOf(res: HttpResponse): AuthChallenge | undefined {
    const raw = res.headers['www-authenticate'];
    const text = Array.isArray(raw) ? raw.join(', ') : raw;
    if (text === undefined) return undefined;
    const all = parseWwwAuthenticate(text);
    return all.find((c) => c.scheme === 'bearer') ?? all.find((c) => c.scheme === 'basic');
  }

  private basicHeader(): Record<string, string> {
    if (this.credentials === undefined) return {};
    return { Authorization: `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}` };
  }

  private async authHeader(scope: string): Promise<Record<string, string>> {
    const challenge = this.challenge;
    if (challenge === undefined) return {};
    if (challenge.scheme === 'basic') return this.basicHeader();
    if (challenge.scheme !== 'bearer') return {};
    let token = this.tokens.get(scope);
    if (token === undefined) {
      token = await this.fetchToken(challenge, scope);
      this.tokens.set(scope, token);
    }
    return { Authorization: `Bearer ${token}` };
  }

  /** GET the challenge's realm for a token (token.md "Requesting a Token"). */
  private async fetchToken(challenge: AuthChallenge, scope: string | undefined): Promise<string> {
    const realm = challenge.params['realm'];
    if (realm === undefined || realm === '') throw this.authError('authenticate', 'the Bearer challenge names no realm');
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw this.authError('authenticate', `the Bearer realm \`${realm}\` is not a URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw this.authError('authenticate', `the Bearer realm \`${realm}\` is not http(s)`);
    const service = challenge.params['service'];
    if (service !== undefined) url.searchParams.set('service', service);
    if (scope !== undefined) url.searchParams.set('scope', scope);
    const res = await this.send(url, this.basicHeader(), true);
    if (res.status === 401 || res.status === 403) {
      await readBody(res, ERROR_BODY_LIMIT_BYTES).catch(() => undefined);
      throw this.authError('authenticate', this.credentials !== undefined ? 'wrong username or password' : 'the token server refused anonymous access');
    }
    if (res.status !== 200) throw await this.httpError(res, `get a token from ${url.origin}${url.pathname}`);
    const body = await readBody(res, ERROR_BODY_LIMIT_BYTES);
    let reply: unknown;
    try {
      reply = JSON.parse(body.toString('utf8'));
    } catch {
      throw this.authError('authenticate', `the token server ${url.origin} sent no JSON`);
    }
    const r = reply as { token?: unknown; access_token?: unknown };
    const token = typeof r.token === 'string' && r.token !== '' ? r.token : typeof r.access_token === 'string' ? r.access_token : '';
    if (token === '') throw this.authError('authenticate', `the token server ${url.origin} sent neither \`token\` nor \`access_token\``);
    return token;
  }

  // ---- errors ----

  private authError(operation: string, reason: string): KapselError {
    return new KapselError('ERR_REGISTRY_AUTH', `${operation} at ${this.registry}: ${reason}`, {
      hint: this.credentials === undefined
        ? `the repository may not exist, or may need \`kapsel login ${this.registry}\``
        : `check the credentials stored by \`kapsel login ${this.registry}\``,
    });
  }

  /** `CODE: message` from a distribution error body (spec.md "Error Codes"), or ''. */
  private async errorDetail(res: HttpResponse): Promise<string> {
    const body = await readBody(res, ERROR_BODY_LIMIT_BYTES).catch(() => Buffer.alloc(0));
    try {
      const parsed = JSON.parse(body.toString('utf8')) as { errors?: { code?: unknown; message?: unknown }[] };
      return (parsed.errors ?? []).map((e) => `${String(e.code ?? '')}: ${String(e.message ?? '')}`).join('; ');
    } catch {
      return '';
    }
  }

  private async notFound(res: HttpResponse, what: string): Promise<KapselError> {
    const detail = await this.errorDetail(res);
    return new KapselError('ERR_IMAGE_NOT_FOUND', `image \`${what}\` not found in registry ${this.registry}${detail !== '' ? ` (${detail})` : ''}`, {
      hint: 'check the repository name and the tag',
    });
  }

  private async httpError(res: HttpResponse, operation: string): Promise<KapselError> {
    const detail = await this.errorDetail(res);
    return new KapselError('ERR_REGISTRY_HTTP', `${operation}: registry answered ${res.status}${detail !== '' ? ` (${detail})` : ''}`);
  }
}
