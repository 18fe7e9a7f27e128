/**
 * Registry credentials in docker's config.json format (docker/cli config/configfile):
 *
 *   { "auths": { "127.0.0.1:5000": { "auth": "<base64 of user:password>" },
 *                "https://index.docker.io/v1/": { "auth": "..." } } }
 *
 * `kapsel login` writes its own file: $KAPSEL_AUTH_FILE, else $XDG_CONFIG_HOME/kapsel/auth.json,
 * else ~/.config/kapsel/auth.json (mode 0600, replaced by rename). Lookups read that file first,
 * then docker's ($DOCKER_CONFIG/config.json, else ~/.docker/config.json), read-only. Keys are
 * compared after normalising: scheme and path dropped, `index.docker.io` / `registry-1.docker.io`
 * read as `docker.io`. Credential helpers (`credsStore`, `credHelpers`) are not supported.
 */

import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { KapselError, wrapError } from '../common/errors.js';
import { DEFAULT_REGISTRY } from './reference.js';
import { writeFileAtomic } from './write-atomic.js';

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** The key docker writes for Docker Hub. */
const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';
const HUB_ALIASES = new Set(['index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com', DEFAULT_REGISTRY]);

function home(env: Env): string {
  return env['HOME'] ?? homedir();
}

/** Where `kapsel login` stores credentials. */
export function kapselAuthFile(env: Env = process.env): string {
  const explicit = env['KAPSEL_AUTH_FILE'];
  if (explicit !== undefined && explicit !== '') return explicit;
  const xdg = env['XDG_CONFIG_HOME'];
  return join(xdg !== undefined && xdg !== '' ? xdg : join(home(env), '.config'), 'kapsel', 'auth.json');
}

/** docker's config.json, read as a fallback. */
export function dockerConfigFile(env: Env = process.env): string {
  const dir = env['DOCKER_CONFIG'];
  return join(dir !== undefined && dir !== '' ? dir : join(home(env), '.docker'), 'config.json');
}

/** `https://index.docker.io/v1/` → `docker.io`; `http://host:5000/v2/` → `host:5000`. */
export function normalizeRegistryHost(key: string): string {
  let host = key.trim().replace(/^[a-z]+:\/\//i, '');
  const slash = host.indexOf('/');
  if (slash >= 0) host = host.slice(0, slash);
  host = host.toLowerCase();
  return HUB_ALIASES.has(host) ? DEFAULT_REGISTRY : host;
}

/** The key a registry's entry is written under (docker's, so docker reads it too). */
export function authKey(registry: string): string {
  const host = normalizeRegistryHost(registry);
  return host === DEFAULT_REGISTRY ? DOCKER_HUB_KEY : host;
}

interface AuthFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; [k: string]: unknown }>;
  [k: string]: unknown;
}

async function readAuthFile(path: string): Promise<AuthFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw wrapError('ERR_AUTH_CONFIG', `read credentials file \`${path}\``, err);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new KapselError('ERR_AUTH_CONFIG', `credentials file \`${path}\`: not JSON (${(err as Error).message})`, { cause: err });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new KapselError('ERR_AUTH_CONFIG', `credentials file \`${path}\`: must be a JSON object`);
  }
  const file = value as AuthFile;
  if (file.auths !== undefined && (typeof file.auths !== 'object' || file.auths === null || Array.isArray(file.auths))) {
    throw new KapselError('ERR_AUTH_CONFIG', `credentials file \`${path}\`: \`auths\` must be an object`);
  }
  return file;
}

function decodeEntry(entry: unknown, path: string, key: string): Credentials | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  const e = entry as { auth?: unknown; username?: unknown; password?: unknown };
  if (typeof e.auth === 'string' && e.auth !== '') {
    const text = Buffer.from(e.auth, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon <= 0) throw new KapselError('ERR_AUTH_CONFIG', `credentials file \`${path}\`: \`auths["${key}"].auth\` is not base64 of user:password`);
    return { username: text.slice(0, colon), password: text.slice(colon + 1) };
  }
  if (typeof e.username === 'string' && typeof e.password === 'string') return { username: e.username, password: e.password };
  return undefined;
}

function lookup(file: AuthFile | undefined, path: string, registry: string): Credentials | undefined {
  const want = normalizeRegistryHost(registry);
  for (const [key, entry] of Object.entries(file?.auths ?? {})) {
    if (normalizeRegistryHost(key) !== want) continue;
    const creds = decodeEntry(entry, path, key);
    if (creds !== undefined) return creds;
  }
  return undefined;
}

/** Credentials for `registry` (host[:port]): kapsel's file first, then docker's; undefined when neither has any. */
export async function findCredentials(registry: string, env: Env = process.env): Promise<Credentials | undefined> {
  for (const path of [kapselAuthFile(env), dockerConfigFile(env)]) {
    const creds = lookup(await readAuthFile(path), path, registry);
    if (creds !== undefined) return creds;
  }
  return undefined;
}

/** Stores `creds` for `registry` in kapsel's file, replacing any entry for the same registry. */
export async function saveCredentials(registry: string, creds: Credentials, env: Env = process.env): Promise<string> {
  const path = kapselAuthFile(env);
  const file = (await readAuthFile(path)) ?? {};
  const want = normalizeRegistryHost(registry);
  const auths = Object.fromEntries(Object.entries(file.auths ?? {}).filter(([key]) => normalizeRegistryHost(key) !== want));
  auths[authKey(registry)] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
  await writePrivate(path, `${JSON.stringify({ ...file, auths }, null, 2)}\n`);
  return path;
}

/** Drops `registry` from kapsel's file; false when it had no entry. */
export async function removeCredentials(registry: string, env: Env = process.env): Promise<boolean> {
  const path = kapselAuthFile(env);
  const file = await readAuthFile(path);
  if (file?.auths === undefined) return false;
  const want = normalizeRegistryHost(registry);
  const keep = Object.entries(file.auths).filter(([key]) => normalizeRegistryHost(key) !== want);
  if (keep.length === Object.keys(file.auths).length) return false;
  await writePrivate(path, `${JSON.stringify({ ...file, auths: Object.fromEntries(keep) }, null, 2)}\n`);
  return true;
}

/** Writes `text` to `path` with mode 0600 through a temp file and rename(2). */
async function writePrivate(path: string, text: string): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFileAtomic(path, text, 0o600);
  } catch (err) {
    throw wrapError('ERR_AUTH_CONFIG', `write credentials file \`${path}\``, err);
  }
}
