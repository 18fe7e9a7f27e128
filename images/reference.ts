/**
 * Docker-style image references: `busybox` → `docker.io/library/busybox:latest`,
 * `registry.example:5000/team/app:v1`, `app@sha256:…`, `app:v1@sha256:…`.
 *
 * The grammar is distribution/reference's (reference/regexp.go), normalised the way
 * `docker pull` does (reference/normalize.go): a first path component is a registry only when it
 * contains `.` or `:` or is `localhost`; `index.docker.io` is `docker.io`; a one-component name
 * on docker.io gets `library/`; no tag and no digest means `:latest`. Pure.
 */

import { KapselError } from '../common/errors.js';

export const DEFAULT_REGISTRY = 'docker.io';
export const DEFAULT_TAG = 'latest';
const LEGACY_REGISTRY = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';
/** reference.NameTotalLengthMax: registry + `/` + repository. */
const NAME_MAX = 255;

// reference/regexp.go, term by term
const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = new RegExp(`^${ALNUM}(?:${SEPARATOR}${ALNUM})*$`);
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])`;
const DOMAIN = new RegExp(`^${HOST}(?::[0-9]+)?$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/;
const HEX64 = /^[0-9a-f]{64}$/;

/** A parsed, normalised reference. `tag` and `digest` may both be present (`app:v1@sha256:…`). */
export interface ImageReference {
  /** `docker.io`, `localhost:5000`, `[::1]:5000`. */
  readonly registry: string;
  /** `library/busybox`, `team/app`. */
  readonly repository: string;
  readonly tag?: string;
  /** `sha256:<64 hex>`. */
  readonly digest?: string;
}

function invalid(input: string, reason: string): KapselError {
  return new KapselError('ERR_IMAGE_REFERENCE', `invalid reference \`${input}\`: ${reason}`, {
    hint: 'references look like `busybox`, `busybox:1.36`, `registry:5000/team/app:tag` or `app@sha256:<64 hex digits>`',
  });
}

/** Parses and normalises `input`; throws ERR_IMAGE_REFERENCE naming the input and the rule broken. */
export function parseReference(input: string): ImageReference {
  if (input === '') throw invalid(input, 'empty reference');
  if (HEX64.test(input)) throw invalid(input, 'a 64-hex-digit string is an image id, not a repository name');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    checkDigest(input, digest);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(input, `tag \`${tag}\` must be 1 to 128 of [A-Za-z0-9_.-], not starting with \`.\` or \`-\``);
  }
  const { registry, repository } = splitName(input, rest);
  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG;
  return { registry, repository, ...(tag !== undefined && { tag }), ...(digest !== undefined && { digest }) };
}

function checkDigest(input: string, digest: string): void {
  if (!DIGEST.test(digest)) throw invalid(input, `digest \`${digest}\` must be \`algorithm:hex\``);
  if (digest.startsWith('sha256:') && !SHA256_DIGEST.test(digest)) {
    throw invalid(input, `digest \`${digest}\` must be sha256 followed by 64 lowercase hex digits`);
  }
  if (!digest.startsWith('sha256:')) throw invalid(input, `digest algorithm of \`${digest}\` is not supported (only sha256)`);
}

function splitName(input: string, name: string): { registry: string; repository: string } {
  if (name === '') throw invalid(input, 'repository name is empty');
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  const isRegistry = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase());
  let registry = isRegistry ? first : DEFAULT_REGISTRY;
  let repository = isRegistry ? name.slice(slash + 1) : name;
  if (isRegistry && !DOMAIN.test(registry)) throw invalid(input, `registry \`${registry}\` is not a valid host[:port]`);
  if (registry === LEGACY_REGISTRY) registry = DEFAULT_REGISTRY;
  if (repository === '') throw invalid(input, 'repository name is empty');
  if (repository !== repository.toLowerCase()) throw invalid(input, 'repository name must be lowercase');
  for (const component of repository.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      throw invalid(input, `repository component \`${component}\` must be lowercase letters and digits separated by \`.\`, \`_\`, \`__\` or \`-\``);
    }
  }
  if (registry === DEFAULT_REGISTRY && !repository.includes('/')) repository = OFFICIAL_PREFIX + repository;
  if (registry.length + 1 + repository.length > NAME_MAX) throw invalid(input, `repository name is longer than ${NAME_MAX} characters`);
  return { registry, repository };
}

/** `registry/repository`, the name without tag or digest. */
export function referenceName(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** The canonical string: `docker.io/library/busybox:latest`, `host:5000/app@sha256:…`. */
export function formatReference(ref: ImageReference): string {
  return `${referenceName(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** The short form `docker images` shows: `busybox:latest`, `team/app:v1`, `host:5000/app:v1`. */
export function familiarReference(ref: ImageReference): string {
  let name = referenceName(ref);
  if (ref.registry === DEFAULT_REGISTRY) {
    name = ref.repository.startsWith(OFFICIAL_PREFIX) ? ref.repository.slice(OFFICIAL_PREFIX.length) : ref.repository;
  }
  return `${name}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** Parses `input` and returns its canonical string (the form the store names images by). */
export function normalizeReference(input: string): string {
  return formatReference(parseReference(input));
}
