/**
 * Platforms (image-index.md "platform") and choosing one manifest from an image index or Docker
 * manifest list. Names are normalised the way containerd's `platforms` package does
 * (platforms/database.go): `x86_64` is `amd64`, `aarch64` is `arm64`, `arm64/v8` is `arm64`,
 * bare `arm` is `arm/v7`. A wanted variant also accepts older variants of the same
 * architecture (an arm/v7 machine runs arm/v6; an amd64/v3 machine runs amd64/v2), exact first.
 * Pure.
 */

import { KapselError } from '../common/errors.js';
import type { Descriptor, ImageIndex, Platform } from './oci-types.js';

export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

/** Node's `process.arch` → GOARCH, the names image platforms use. */
const NODE_TO_GOARCH: Readonly<Record<string, string>> = {
  x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64', mips: 'mips', mipsel: 'mipsle',
};

const ARCH_ALIASES: Readonly<Record<string, Platform>> = {
  i386: { os: '', architecture: '386' },
  x86_64: { os: '', architecture: 'amd64' },
  'x86-64': { os: '', architecture: 'amd64' },
  aarch64: { os: '', architecture: 'arm64' },
  armhf: { os: '', architecture: 'arm', variant: 'v7' },
  armel: { os: '', architecture: 'arm', variant: 'v6' },
};

function platformError(message: string): KapselError {
  return new KapselError('ERR_IMAGE_PLATFORM', message, { hint: 'platforms look like `linux/amd64` or `linux/arm/v7`' });
}

/** Normalises names and default variants so equal platforms compare equal. */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase();
  let architecture = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase() ?? '';
  const alias = Object.hasOwn(ARCH_ALIASES, architecture) ? ARCH_ALIASES[architecture] : undefined;
  if (alias !== undefined) {
    architecture = alias.architecture;
    if (variant === '' && alias.variant !== undefined) variant = alias.variant;
  }
  if (/^[0-9]+$/.test(variant)) variant = `v${variant}`;
  if (architecture === 'arm64' && variant === 'v8') variant = '';
  if (architecture === 'amd64' && variant === 'v1') variant = '';
  if (architecture === 'arm' && variant === '') variant = 'v7';
  const out: Platform = { os, architecture };
  if (variant !== '') out.variant = variant;
  return out;
}

/** `linux/amd64`, `linux/arm/v7` → Platform; throws ERR_IMAGE_PLATFORM naming the input. */
export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p))) {
    throw platformError(`invalid platform \`${text}\`: must be os/architecture[/variant]`);
  }
  const [os = '', architecture = '', variant] = parts;
  return normalizePlatform({ os, architecture, ...(variant !== undefined && { variant }) });
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant !== undefined && p.variant !== '' ? `/${p.variant}` : ''}`;
}

/** The platform of this machine (`linux/amd64` on x86-64); `nodeArch` is `process.arch`. */
export function hostPlatform(nodeArch: string, nodePlatform = 'linux'): Platform {
  const arch = Object.hasOwn(NODE_TO_GOARCH, nodeArch) ? NODE_TO_GOARCH[nodeArch] ?? nodeArch : nodeArch;
  return normalizePlatform({ os: nodePlatform, architecture: arch });
}

function variantRank(variant: string | undefined): number {
  if (variant === undefined) return 1; // amd64 and arm64 normalise v1/v8 to no variant
  const m = /^v([0-9]+)$/.exec(variant);
  return m === null ? -1 : Number(m[1]);
}

/**
 * How well `have` serves a machine of platform `want`: 0 for an exact match, n > 0 for a
 * compatible older variant (larger is older), undefined when it cannot run.
 */
export function platformDistance(want: Platform, have: Platform): number | undefined {
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return undefined;
  if (w.variant === h.variant) return 0;
  if (w.architecture !== 'arm' && w.architecture !== 'amd64') return undefined;
  const wr = variantRank(w.variant);
  const hr = variantRank(h.variant);
  if (wr < 0 || hr < 0 || hr > wr) return undefined;
  return wr - hr;
}

/**
 * The manifest of `index` for `want` (linux/amd64 by default): the best match, the first in
 * index order among equals. An index whose entries declare no platform at all (a plain OCI
 * layout) yields its only entry. Throws ERR_IMAGE_PLATFORM listing the platforms available.
 */
export function selectManifest(index: ImageIndex, what: string, want: Platform = DEFAULT_PLATFORM): Descriptor {
  let best: Descriptor | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const d of index.manifests) {
    if (d.platform === undefined) continue;
    const distance = platformDistance(want, d.platform);
    if (distance !== undefined && distance < bestDistance) {
      best = d;
      bestDistance = distance;
    }
  }
  if (best !== undefined) return best;
  const withPlatform = index.manifests.filter((d) => d.platform !== undefined);
  const only = index.manifests[0];
  if (withPlatform.length === 0 && index.manifests.length === 1 && only !== undefined) return only;
  const available = [...new Set(withPlatform.map((d) => formatPlatform(normalizePlatform(d.platform as Platform))))];
  throw platformError(
    `image \`${what}\` has no manifest for platform ${formatPlatform(normalizePlatform(want))} (available: ${available.length > 0 ? available.join(', ') : 'none'})`,
  );
}
