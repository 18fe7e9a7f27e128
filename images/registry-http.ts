/**
 * The HTTP transport of the registry client: one request over node:http / node:https with
 * keep-alive agents, a socket idle timeout, an abort signal, and redirects followed by hand so
 * credentials never travel to another origin (a registry commonly redirects blob GETs to a
 * storage service with a signed URL).
 */

import { readFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { KapselError } from '../common/errors.js';

const IDLE_TIMEOUT_MS = 60_000;
const MAX_REDIRECTS = 5;

const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
/**
 * Extra trusted CA certificates (PEM): bin/kapsel moves NODE_EXTRA_CA_CERTS here, since Node
 * would parse it at every start-up; they are read when the first TLS connection is made.
 */
export const EXTRA_CA_ENV = 'KAPSEL_EXTRA_CA_CERTS';
let verifying: { extra: string | undefined; agent: https.Agent } | undefined;

/** The verifying agent: Node's roots, plus $KAPSEL_EXTRA_CA_CERTS when set (as NODE_EXTRA_CA_CERTS adds them). */
function httpsAgent(): https.Agent {
  const extra = process.env[EXTRA_CA_ENV] || undefined;
  if (verifying === undefined || verifying.extra !== extra) {
    verifying?.agent.destroy();
    let ca: string[] | undefined;
    if (extra !== undefined) {
      try {
        ca = [...rootCertificates, readFileSync(extra, 'utf8')];
      } catch (err) {
        throw new KapselError('ERR_REGISTRY_TLS', `read the extra CA certificates \`${extra}\` (NODE_EXTRA_CA_CERTS): ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
      }
    }
    verifying = { extra, agent: new https.Agent({ keepAlive: true, maxSockets: 16, ...(ca !== undefined && { ca }) }) };
  }
  return verifying.agent;
}
/** For `--insecure-registry` hosts that do speak TLS: the certificate is not verified. */
const insecureHttpsAgent = new https.Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false });

export interface RequestOptions {
  readonly method?: 'GET' | 'HEAD';
  readonly headers?: Readonly<Record<string, string>>;
  /** Accept any TLS certificate (insecure registries only). */
  readonly insecureTls?: boolean;
  /** Follow 30x redirects, dropping `Authorization` when the origin changes. */
  readonly followRedirects?: boolean;
  readonly signal?: AbortSignal;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The final URL after redirects. */
  readonly url: URL;
  readonly body: IncomingMessage;
}

function requestOnce(url: URL, opts: RequestOptions, headers: Readonly<Record<string, string>>): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const secure = url.protocol === 'https:';
    const mod = secure ? https : http;
    const agent = secure ? (opts.insecureTls === true ? insecureHttpsAgent : httpsAgent()) : httpAgent;
    const req = mod.request(url, { method: opts.method ?? 'GET', headers, agent, ...(opts.signal !== undefined && { signal: opts.signal }) }, (res) => {
      res.setTimeout(IDLE_TIMEOUT_MS, () => res.destroy(new Error(`no data for ${IDLE_TIMEOUT_MS / 1000} s`)));
      resolve(res);
    });
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new Error(`no response for ${IDLE_TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    req.end();
  });
}

/** GET (or HEAD) `url`; the caller consumes or destroys `body`. Network failures reject. */
export async function httpRequest(url: URL, opts: RequestOptions = {}): Promise<HttpResponse> {
  let current = url;
  let headers: Record<string, string> = { ...opts.headers };
  for (let hop = 0; ; hop++) {
    const res = await requestOnce(current, opts, headers);
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (opts.followRedirects !== true || ![301, 302, 303, 307, 308].includes(status) || location === undefined) {
      return { status, headers: res.headers, url: current, body: res };
    }
    res.resume();
    if (hop >= MAX_REDIRECTS) throw new KapselError('ERR_REGISTRY_HTTP', `GET ${url.href}: more than ${MAX_REDIRECTS} redirects`);
    const next = new URL(location, current);
    if (next.origin !== current.origin) {
      headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
    }
    current = next;
  }
}

/** The whole body, refusing more than `limitBytes`. */
export async function readBody(res: HttpResponse, limitBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) {
      res.body.destroy();
      throw new KapselError('ERR_REGISTRY_HTTP', `GET ${res.url.href}: reply larger than ${limitBytes} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** A header's single value (the first of repeated ones). */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
