/**
 * Types and media types of OCI image-spec v1.1 (descriptor.md, image-index.md, manifest.md,
 * config.md, image-layout.md) and their Docker image manifest v2 schema 2 counterparts
 * (distribution/docs/spec/manifest-v2-2.md), which share the JSON shapes and differ in media
 * types. Optional fields follow the spec's OPTIONAL; absent is absent, never `undefined`.
 * Validation is in oci-validate.ts, platform selection in platform.ts.
 */

// ---- media types (media-types.md; manifest-v2-2.md "Media Types") ----

export const MEDIA_TYPE = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociLayerNondistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerForeignGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  /** Schema 1 (signed JWS): recognised only to refuse it with a clear message. */
  dockerManifestV1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerManifestV1: 'application/vnd.docker.distribution.manifest.v1+json',
} as const;

export const INDEX_MEDIA_TYPES: readonly string[] = [MEDIA_TYPE.ociIndex, MEDIA_TYPE.dockerManifestList];
export const MANIFEST_MEDIA_TYPES: readonly string[] = [MEDIA_TYPE.ociManifest, MEDIA_TYPE.dockerManifest];
export const CONFIG_MEDIA_TYPES: readonly string[] = [MEDIA_TYPE.ociConfig, MEDIA_TYPE.dockerConfig];

export type LayerCompression = 'none' | 'gzip' | 'zstd';

const LAYER_COMPRESSION: Readonly<Record<string, LayerCompression>> = {
  [MEDIA_TYPE.ociLayer]: 'none',
  [MEDIA_TYPE.ociLayerGzip]: 'gzip',
  [MEDIA_TYPE.ociLayerZstd]: 'zstd',
  [MEDIA_TYPE.ociLayerNondistributable]: 'none',
  [MEDIA_TYPE.ociLayerNondistributableGzip]: 'gzip',
  [MEDIA_TYPE.ociLayerNondistributableZstd]: 'zstd',
  [MEDIA_TYPE.dockerLayerGzip]: 'gzip',
  [MEDIA_TYPE.dockerLayerForeignGzip]: 'gzip',
};

/** The compression a layer media type declares, or undefined when it is not a layer type. */
export function layerCompression(mediaType: string): LayerCompression | undefined {
  return Object.hasOwn(LAYER_COMPRESSION, mediaType) ? LAYER_COMPRESSION[mediaType] : undefined;
}

export function isIndexMediaType(mediaType: string): boolean {
  return INDEX_MEDIA_TYPES.includes(mediaType);
}

export function isManifestMediaType(mediaType: string): boolean {
  return MANIFEST_MEDIA_TYPES.includes(mediaType);
}

// ---- annotations (annotations.md; image-layout.md "index.json") ----

export const ANNOTATION = {
  refName: 'org.opencontainers.image.ref.name',
  created: 'org.opencontainers.image.created',
  /** containerd's key for the full image name in an OCI layout's index.json. */
  containerdImageName: 'io.containerd.image.name',
} as const;

// ---- descriptor.md ----

export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  features?: string[];
}

export interface Descriptor {
  mediaType: string;
  /** `algorithm:encoded`; kapsel stores sha256 only. */
  digest: string;
  /** Bytes of the blob. */
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  /** Base64 of the embedded content. */
  data?: string;
  artifactType?: string;
  /** Only on entries of an image index. */
  platform?: Platform;
}

// ---- image-index.md (and the Docker manifest list) ----

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

// ---- manifest.md (and the Docker schema 2 manifest) ----

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

// ---- config.md ----

/** `config` of an image config: the defaults for a container (Docker's field names). */
export interface ContainerConfig {
  User?: string;
  /** Keys `port/proto` (`80/tcp`); values are empty objects. */
  ExposedPorts?: Record<string, unknown>;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  /** Keys are absolute paths; values are empty objects. */
  Volumes?: Record<string, unknown>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  ArgsEscaped?: boolean;
}

export interface RootFs {
  type: 'layers';
  /** Digests of the uncompressed layer tars, lowest first. */
  diff_ids: string[];
}

export interface History {
  created?: string;
  author?: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  config?: ContainerConfig;
  rootfs: RootFs;
  history?: History[];
}

// ---- image-layout.md ----

export const OCI_LAYOUT_FILE = 'oci-layout';
export const OCI_LAYOUT_VERSION = '1.0.0';
export interface OciLayout {
  imageLayoutVersion: string;
}
