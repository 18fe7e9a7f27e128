/**
 * Layer decompression (image-spec layer.md "Distributable Format"): tar, tar+gzip (RFC 1952,
 * node:zlib) and tar+zstd (RFC 8878, libzstd through sys/libzstd.ts). The format is taken from
 * the stream's magic bytes, as `docker load` and containerd do, so a layer labelled with the
 * wrong media type still unpacks; a media type that is not a layer type is refused.
 */

import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { KapselError } from '../common/errors.js';
import { createZstdDecoder, type ZstdDecoder } from '../sys/libzstd.js';
import { layerCompression, type LayerCompression } from './oci-types.js';

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd]; // RFC 8878 section 3.1.1, little-endian 0xFD2FB528
const MAGIC_BYTES = 4;

function startsWith(head: Uint8Array, magic: readonly number[]): boolean {
  return head.length >= magic.length && magic.every((b, i) => head[i] === b);
}

/** The compression the first bytes of a layer show; `none` for anything else (a tar). */
export function detectCompression(head: Uint8Array): LayerCompression {
  if (startsWith(head, ZSTD_MAGIC)) return 'zstd';
  if (startsWith(head, GZIP_MAGIC)) return 'gzip';
  return 'none';
}

/** Refuses media types that are not layers (encrypted layers, artifacts); undefined passes. */
export function checkLayerMediaType(mediaType: string | undefined, layer: string): void {
  if (mediaType === undefined || layerCompression(mediaType) !== undefined) return;
  throw new KapselError('ERR_IMAGE_UNSUPPORTED', `layer ${layer}: media type ${mediaType} is not a supported layer type`, {
    hint: 'kapsel unpacks tar, tar+gzip and tar+zstd layers',
  });
}

/** A zstd decoder as a Transform; the libzstd context is freed on end, error or destroy. */
export class ZstdDecompress extends Transform {
  private decoder: ZstdDecoder | undefined;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.decoder ??= createZstdDecoder();
      for (const out of this.decoder.push(chunk)) this.push(out);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.decoder?.finish();
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _destroy(err: Error | null, done: (error: Error | null) => void): void {
    this.decoder?.close();
    done(err);
  }
}

export interface DecompressedLayer {
  readonly compression: LayerCompression;
  /** The uncompressed tar. Errors of `source` and of the decoder surface here. */
  readonly tar: Readable;
}

/** Reads the first bytes of `source`, picks the decoder, and returns the uncompressed stream. */
export async function decompressLayer(source: Readable): Promise<DecompressedLayer> {
  const head = await readHead(source, MAGIC_BYTES);
  const compression = detectCompression(head);
  const decoder: Transform = compression === 'gzip' ? createGunzip() : compression === 'zstd' ? new ZstdDecompress() : new PassThrough();
  source.on('error', (err) => decoder.destroy(err));
  if (head.length > 0) decoder.write(head);
  source.pipe(decoder);
  return { compression, tar: decoder };
}

/** Up to `bytes` first bytes of `source`, without losing them: the caller writes them on. */
async function readHead(source: Readable, bytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  while (have < bytes) {
    const chunk = source.read() as Buffer | null;
    if (chunk !== null) {
      parts.push(chunk);
      have += chunk.length;
      continue;
    }
    if (source.readableEnded) break;
    await new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        source.off('readable', onReadable);
        source.off('end', onReadable);
        source.off('error', onError);
      };
      const onReadable = (): void => { cleanup(); resolve(); };
      const onError = (err: Error): void => { cleanup(); reject(err); };
      source.once('readable', onReadable);
      source.once('end', onReadable);
      source.once('error', onError);
    });
  }
  return Buffer.concat(parts);
}
