/**
 * Validation of image documents (OCI image-spec v1.1 descriptor.md, image-index.md,
 * manifest.md, config.md; Docker manifest-v2-2.md). Each parser checks the whole document,
 * reports every violation with its JSON path in one ERR_IMAGE_INVALID error, and returns the
 * typed value. Pure: bytes in, values out.
 *
 * Docker-written configs carry JSON `null` for absent lists and maps (`"Entrypoint": null`,
 * `"Volumes": null`); those read as absent.
 */

import { KapselError } from '../common/errors.js';
import { Checker, childPath, indexPath, isObject, type JsonObject, type Violation } from '../oci/validate-context.js';
import {
  MEDIA_TYPE,
  isIndexMediaType,
  isManifestMediaType,
  type ContainerConfig,
  type History,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
} from './oci-types.js';

// descriptor.md "Digests": algorithm-component (separator algorithm-component)* ":" encoded
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const DIGEST_ENCODED: Readonly<Record<string, RegExp>> = { sha256: /^[a-f0-9]{64}$/, sha512: /^[a-f0-9]{128}$/ };
// RFC 6838 section 4.2 restricted-name, as descriptor.md requires of mediaType
const MEDIA_TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;
const ROOT = '$';

function fail(kind: string, what: string, violations: readonly Violation[]): KapselError {
  const list = violations.map((v) => `${v.path}: ${v.message}`).join('; ');
  return new KapselError('ERR_IMAGE_INVALID', `invalid ${kind} \`${what}\`: ${list}`);
}

/** The problem with `digest`, or undefined when it is well formed (and sha256/sha512 correct). */
export function digestProblem(digest: string): string | undefined {
  if (!DIGEST.test(digest)) return `must be a digest \`algorithm:encoded\` (got ${JSON.stringify(digest)})`;
  const algorithm = digest.slice(0, digest.indexOf(':'));
  const encoded = digest.slice(algorithm.length + 1);
  const want = Object.hasOwn(DIGEST_ENCODED, algorithm) ? DIGEST_ENCODED[algorithm] : undefined;
  if (want !== undefined && !want.test(encoded)) return `${algorithm} digest must be ${algorithm === 'sha256' ? 64 : 128} lowercase hex digits`;
  return undefined;
}

function checkDigest(c: Checker, obj: JsonObject, key: string, path: string): void {
  const digest = c.reqString(obj, key, path);
  const problem = digest === undefined ? undefined : digestProblem(digest);
  if (problem !== undefined) c.fail(childPath(path, key), problem);
}

function checkMediaType(c: Checker, obj: JsonObject, key: string, path: string, required: boolean): string | undefined {
  const mediaType = c.optString(obj, key, path, required);
  if (mediaType !== undefined && !MEDIA_TYPE_RE.test(mediaType)) c.fail(childPath(path, key), 'must be a media type `type/subtype` (RFC 6838)');
  return mediaType;
}

function checkPlatform(c: Checker, obj: JsonObject, path: string): void {
  c.reqString(obj, 'architecture', path);
  c.reqString(obj, 'os', path);
  c.optString(obj, 'os.version', path);
  c.optStringArray(obj, 'os.features', path);
  c.optString(obj, 'variant', path);
  c.optStringArray(obj, 'features', path);
}

function checkDescriptor(c: Checker, obj: JsonObject, path: string): void {
  checkMediaType(c, obj, 'mediaType', path, true);
  checkDigest(c, obj, 'digest', path);
  c.reqInt(obj, 'size', path, 'int64');
  c.optStringArray(obj, 'urls', path);
  c.optStringMap(obj, 'annotations', path);
  c.optString(obj, 'data', path);
  checkMediaType(c, obj, 'artifactType', path, false);
  const platform = c.optObject(obj, 'platform', path);
  if (platform !== undefined) checkPlatform(c, platform, childPath(path, 'platform'));
  const size = obj['size'];
  if (typeof size === 'number' && size < 0) c.fail(childPath(path, 'size'), 'must not be negative');
}

function descriptorAt(c: Checker, obj: JsonObject, key: string, path: string, required: boolean): void {
  const d = c.optObject(obj, key, path, required);
  if (d !== undefined) checkDescriptor(c, d, childPath(path, key));
}

function checkSchemaVersion(c: Checker, doc: JsonObject): void {
  const v = c.reqInt(doc, 'schemaVersion', ROOT, 'int32');
  if (v !== undefined && v !== 2) c.fail(childPath(ROOT, 'schemaVersion'), `must be 2 (got ${v})`);
}

/** An image index or Docker manifest list; `what` names it in errors (a digest or a file). */
export function parseImageIndex(value: unknown, what: string): ImageIndex {
  const c = new Checker();
  const doc = c.object(value, ROOT);
  if (doc !== undefined) {
    checkSchemaVersion(c, doc);
    const mediaType = checkMediaType(c, doc, 'mediaType', ROOT, false);
    if (mediaType !== undefined && !isIndexMediaType(mediaType)) c.fail(childPath(ROOT, 'mediaType'), `${mediaType} is not an image index media type`);
    c.optArray(doc, 'manifests', ROOT, true);
    c.eachObject(doc, 'manifests', ROOT, (item, at) => checkDescriptor(c, item, at));
    descriptorAt(c, doc, 'subject', ROOT, false);
    c.optStringMap(doc, 'annotations', ROOT);
  }
  if (c.violations.length > 0) throw fail('image index', what, c.violations);
  return value as ImageIndex;
}

/** An image manifest (OCI or Docker schema 2). */
export function parseImageManifest(value: unknown, what: string): ImageManifest {
  const c = new Checker();
  const doc = c.object(value, ROOT);
  if (doc !== undefined) {
    checkSchemaVersion(c, doc);
    const mediaType = checkMediaType(c, doc, 'mediaType', ROOT, false);
    if (mediaType !== undefined && !isManifestMediaType(mediaType)) c.fail(childPath(ROOT, 'mediaType'), `${mediaType} is not an image manifest media type`);
    descriptorAt(c, doc, 'config', ROOT, true);
    c.optArray(doc, 'layers', ROOT, true);
    c.eachObject(doc, 'layers', ROOT, (item, at) => checkDescriptor(c, item, at));
    descriptorAt(c, doc, 'subject', ROOT, false);
    c.optStringMap(doc, 'annotations', ROOT);
  }
  if (c.violations.length > 0) throw fail('image manifest', what, c.violations);
  return value as ImageManifest;
}

export type ManifestDocument =
  | { readonly kind: 'index'; readonly mediaType: string; readonly index: ImageIndex }
  | { readonly kind: 'manifest'; readonly mediaType: string; readonly manifest: ImageManifest };

/**
 * Parses manifest bytes as an index or a manifest. The kind comes from the document's own
 * `mediaType`, else from `descriptorMediaType` (what the referring descriptor or the registry's
 * Content-Type said), else from its shape. The two media types must agree when both are given.
 */
export function parseManifestDocument(bytes: Uint8Array, what: string, descriptorMediaType?: string): ManifestDocument {
  const value = parseJson(bytes, 'manifest', what);
  const own = isObject(value) && typeof value['mediaType'] === 'string' ? value['mediaType'] : undefined;
  if (own !== undefined && descriptorMediaType !== undefined && own !== descriptorMediaType) {
    throw new KapselError('ERR_IMAGE_INVALID', `invalid manifest \`${what}\`: its mediaType ${own} differs from the descriptor's ${descriptorMediaType}`);
  }
  const mediaType = own ?? descriptorMediaType;
  if (mediaType === MEDIA_TYPE.dockerManifestV1 || mediaType === MEDIA_TYPE.dockerManifestV1Signed || (isObject(value) && value['schemaVersion'] === 1)) {
    throw new KapselError('ERR_IMAGE_UNSUPPORTED', `manifest \`${what}\`: Docker image manifest schema 1 is not supported`, {
      hint: 'push the image again with a current docker or skopeo, which write schema 2 or OCI manifests',
    });
  }
  const looksLikeIndex = mediaType !== undefined ? isIndexMediaType(mediaType) : isObject(value) && Array.isArray(value['manifests']);
  if (looksLikeIndex) return { kind: 'index', mediaType: mediaType ?? MEDIA_TYPE.ociIndex, index: parseImageIndex(value, what) };
  if (mediaType !== undefined && !isManifestMediaType(mediaType)) {
    throw new KapselError('ERR_IMAGE_UNSUPPORTED', `manifest \`${what}\`: media type ${mediaType} is not an image manifest or index`);
  }
  return { kind: 'manifest', mediaType: mediaType ?? MEDIA_TYPE.ociManifest, manifest: parseImageManifest(value, what) };
}

export function parseJson(bytes: Uint8Array, kind: string, what: string): unknown {
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as unknown;
  } catch (err) {
    throw new KapselError('ERR_IMAGE_INVALID', `invalid ${kind} \`${what}\`: not JSON (${(err as Error).message})`, { cause: err });
  }
}

/** An image config (OCI or Docker); nulls in `config` read as absent. */
export function parseImageConfig(value: unknown, what: string): ImageConfig {
  const c = new Checker();
  const doc = c.object(value, ROOT);
  let out: ImageConfig | undefined;
  if (doc !== undefined) out = readImageConfig(c, doc);
  if (c.violations.length > 0 || out === undefined) throw fail('image config', what, c.violations);
  return out;
}

function readImageConfig(c: Checker, doc: JsonObject): ImageConfig | undefined {
  const architecture = c.reqString(doc, 'architecture', ROOT);
  const os = c.reqString(doc, 'os', ROOT);
  const rootfsAt = childPath(ROOT, 'rootfs');
  const rootfs = c.reqObject(doc, 'rootfs', ROOT);
  const diffIds: string[] = [];
  if (rootfs !== undefined) {
    const type = c.reqString(rootfs, 'type', rootfsAt);
    if (type !== undefined && type !== 'layers') c.fail(childPath(rootfsAt, 'type'), `must be "layers" (got ${JSON.stringify(type)})`);
    for (const [i, id] of c.optStringArray(rootfs, 'diff_ids', rootfsAt, true) ?? []) {
      const problem = digestProblem(id);
      if (problem !== undefined) c.fail(indexPath(childPath(rootfsAt, 'diff_ids'), i), problem);
      diffIds.push(id);
    }
  }
  const out: ImageConfig = { architecture: architecture ?? '', os: os ?? '', rootfs: { type: 'layers', diff_ids: diffIds } };
  for (const key of ['created', 'author', 'os.version', 'variant'] as const) {
    const v = c.optString(doc, key, ROOT);
    if (v !== undefined) out[key] = v;
  }
  const features = c.optStringArray(doc, 'os.features', ROOT);
  if (features !== undefined) out['os.features'] = features.map(([, f]) => f);
  const config = doc['config'] === null ? undefined : c.optObject(doc, 'config', ROOT);
  if (config !== undefined) out.config = readContainerConfig(c, config, childPath(ROOT, 'config'));
  const history: History[] = [];
  c.eachObject(doc, 'history', ROOT, (item, at) => {
    const h: History = {};
    for (const key of ['created', 'author', 'created_by', 'comment'] as const) {
      const v = c.optString(item, key, at);
      if (v !== undefined) h[key] = v;
    }
    const empty = c.optBool(item, 'empty_layer', at);
    if (empty !== undefined) h.empty_layer = empty;
    history.push(h);
  });
  if (doc['history'] !== undefined) out.history = history;
  return out;
}

function readContainerConfig(c: Checker, raw: JsonObject, path: string): ContainerConfig {
  // Docker writes null for an absent list or map; drop those keys before reading.
  const obj: JsonObject = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== null));
  const out: ContainerConfig = {};
  for (const key of ['User', 'WorkingDir', 'StopSignal'] as const) {
    const v = c.optString(obj, key, path);
    if (v !== undefined) out[key] = v;
  }
  for (const key of ['Env', 'Entrypoint', 'Cmd'] as const) {
    const v = c.optStringArray(obj, key, path);
    if (v !== undefined) out[key] = v.map(([, s]) => s);
  }
  for (const key of ['ExposedPorts', 'Volumes'] as const) {
    const v = c.optObject(obj, key, path);
    if (v !== undefined) out[key] = v;
  }
  const labels = c.optStringMap(obj, 'Labels', path);
  if (labels !== undefined) out.Labels = Object.fromEntries(labels);
  const escaped = c.optBool(obj, 'ArgsEscaped', path);
  if (escaped !== undefined) out.ArgsEscaped = escaped;
  return out;
}

/** A manifest's layer count must equal its config's diff_ids (config.md "rootfs"). */
export function checkConfigMatchesManifest(manifest: ImageManifest, config: ImageConfig, what: string): void {
  const layers = manifest.layers.length;
  const diffIds = config.rootfs.diff_ids.length;
  if (layers !== diffIds) {
    throw new KapselError('ERR_IMAGE_INVALID', `image \`${what}\`: the manifest lists ${layers} layer${layers === 1 ? '' : 's'} but the config ${diffIds} diff_id${diffIds === 1 ? '' : 's'}`);
  }
}
