/**
 * libzstd (zstd 1.5, /usr/include/zstd.h) through koffi: streaming decompression for
 * `tar+zstd` image layers, and one-shot compression for building test layers.
 * ZSTD_createDStream(3), ZSTD_decompressStream, ZSTD_compress, ZSTD_isError, ZSTD_getErrorName.
 *
 * The shared library is opened on the first call, not on import: most kapsel commands never
 * see a zstd layer. libzstd reports errors as size_t values that ZSTD_isError() recognises;
 * those become SyscallError with errno EIO and the function and libzstd's message.
 */
import { koffi } from './ffi.js';
import { SyscallError } from './syscall-error.js';

const EIO = 5;
/** sizeof(ZSTD_inBuffer) == sizeof(ZSTD_outBuffer): a pointer and two size_t (x86_64, aarch64). */
const ZSTD_BUFFER_SIZE = 24;
/** Output chunk per ZSTD_decompressStream call: ZSTD_DStreamOutSize() is 128 KiB + a block. */
const OUT_CHUNK_BYTES = 256 * 1024;

type Size = number | bigint;
type DStream = bigint;

interface Bindings {
  createDStream(): DStream | null;
  freeDStream(zds: DStream): Size;
  initDStream(zds: DStream): Size;
  decompressStream(zds: DStream, output: Buffer, input: Buffer): Size;
  compress(dst: Buffer, dstCapacity: number, src: Buffer, srcSize: number, level: number): Size;
  compressBound(srcSize: number): Size;
  isError(code: Size): number;
  getErrorName(code: Size): string;
  versionString(): string;
}

let bindings: Bindings | undefined;

function lib(): Bindings {
  if (bindings !== undefined) return bindings;
  const zstd = koffi().load('libzstd.so.1');
  // FFI: ZSTD_DStream * is opaque; koffi hands it back as a bigint address (null for NULL) and it
  // lives until ZSTD_freeDStream. Buffers passed as `void *` are borrowed for the call only.
  bindings = {
    createDStream: zstd.func('void *ZSTD_createDStream(void)'),
    freeDStream: zstd.func('size_t ZSTD_freeDStream(void *zds)'),
    initDStream: zstd.func('size_t ZSTD_initDStream(void *zds)'),
    decompressStream: zstd.func('size_t ZSTD_decompressStream(void *zds, void *output, void *input)'),
    compress: zstd.func('size_t ZSTD_compress(void *dst, size_t dstCapacity, const void *src, size_t srcSize, int level)'),
    compressBound: zstd.func('size_t ZSTD_compressBound(size_t srcSize)'),
    isError: zstd.func('unsigned int ZSTD_isError(size_t code)'),
    getErrorName: zstd.func('const char *ZSTD_getErrorName(size_t code)'),
    versionString: zstd.func('const char *ZSTD_versionString(void)'),
  };
  return bindings;
}

function check(ret: Size, fn: string, what: string): number {
  const z = lib();
  if (z.isError(ret) !== 0) throw new SyscallError(fn, EIO, `${what}: ${z.getErrorName(ret)}`);
  return Number(ret);
}

/** libzstd's version (`1.5.4`); loads the library. */
export function zstdVersion(): string {
  return lib().versionString();
}

/** A streaming decoder of one or more concatenated zstd frames. */
export interface ZstdDecoder {
  /** Decompresses `chunk`; returns the output produced so far (fresh buffers, not reused). */
  push(chunk: Buffer): Buffer[];
  /** Throws when the input ended inside a frame. Frees the decoder. */
  finish(): void;
  /** Frees the decoder (idempotent). */
  close(): void;
}

export function createZstdDecoder(): ZstdDecoder {
  const z = lib();
  const zds = z.createDStream();
  if (zds === null) throw new SyscallError('ZSTD_createDStream', 12, 'zstd: create decompression stream');
  check(z.initDStream(zds), 'ZSTD_initDStream', 'zstd: init decompression stream');
  let open = true;
  let midFrame = false;
  // FFI: ZSTD_inBuffer/ZSTD_outBuffer { void *ptr; size_t size; size_t pos; }, 24 bytes each,
  // owned here; libzstd reads `ptr` and `size` and advances `pos` during each call.
  const inBuf = Buffer.alloc(ZSTD_BUFFER_SIZE);
  const outBuf = Buffer.alloc(ZSTD_BUFFER_SIZE);
  const close = (): void => {
    if (!open) return;
    open = false;
    z.freeDStream(zds);
  };
  return {
    push(chunk: Buffer): Buffer[] {
      if (!open) throw new SyscallError('ZSTD_decompressStream', EIO, 'zstd: decoder is closed');
      const produced: Buffer[] = [];
      // FFI: `chunk` and each `out` stay referenced in this frame while libzstd reads/writes them.
      inBuf.writeBigUInt64LE(BigInt(koffi().address(chunk)), 0);
      inBuf.writeBigUInt64LE(BigInt(chunk.length), 8);
      inBuf.writeBigUInt64LE(0n, 16);
      for (;;) {
        const out = Buffer.allocUnsafeSlow(OUT_CHUNK_BYTES);
        outBuf.writeBigUInt64LE(BigInt(koffi().address(out)), 0);
        outBuf.writeBigUInt64LE(BigInt(out.length), 8);
        outBuf.writeBigUInt64LE(0n, 16);
        const hint = check(z.decompressStream(zds, outBuf, inBuf), 'ZSTD_decompressStream', 'zstd: decompress');
        midFrame = hint !== 0;
        const outPos = Number(outBuf.readBigUInt64LE(16));
        if (outPos > 0) produced.push(out.subarray(0, outPos));
        const inPos = Number(inBuf.readBigUInt64LE(16));
        if (inPos >= chunk.length && outPos < out.length) break;
      }
      return produced;
    },
    finish(): void {
      const truncated = open && midFrame;
      close();
      if (truncated) throw new SyscallError('ZSTD_decompressStream', EIO, 'zstd: input ends inside a frame (truncated layer)');
    },
    close,
  };
}

/** One-shot compression at `level` (1..19; 3 is zstd's default). */
export function zstdCompress(data: Buffer, level = 3): Buffer {
  const z = lib();
  const bound = check(z.compressBound(data.length), 'ZSTD_compressBound', 'zstd: compress bound');
  const dst = Buffer.allocUnsafe(bound);
  // FFI: dst holds `bound` bytes, src `data.length`; both borrowed for the call.
  const n = check(z.compress(dst, bound, data, data.length, level), 'ZSTD_compress', 'zstd: compress');
  return dst.subarray(0, n);
}
