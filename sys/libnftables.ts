/**
 * libnftables (nftables 1.0) through koffi: run nft(8) command text in-process, as `nft -f` would,
 * without spawning the nft binary. libnftables(3): nft_ctx_new, nft_ctx_buffer_output,
 * nft_ctx_buffer_error, nft_run_cmd_from_buffer, nft_ctx_get_output_buffer,
 * nft_ctx_get_error_buffer, nft_ctx_free; constants from /usr/include/nftables/libnftables.h.
 *
 * The library is opened on the first call, not on import. A command buffer is one netlink batch:
 * every command in it applies atomically or none does. libnftables talks to the kernel over a
 * netlink socket it opens during the call, so the commands act on the calling thread's network
 * namespace.
 */
import { koffi, type Koffi } from './ffi.js';
import { KapselError } from '../common/errors.js';

const NFT_CTX_DEFAULT = 0;
const NFT_CTX_OUTPUT_HANDLE = 1 << 3;

type Ctx = bigint;

interface Bindings {
  ctxNew(flags: number): Ctx | null;
  ctxFree(ctx: Ctx): void;
  bufferOutput(ctx: Ctx): number;
  bufferError(ctx: Ctx): number;
  setOutputFlags(ctx: Ctx, flags: number): void;
  getOutput(ctx: Ctx): string | null;
  getError(ctx: Ctx): string | null;
  runCmd(ctx: Ctx, buf: string): number;
}

let bindings: Bindings | undefined;

function lib(): Bindings {
  if (bindings !== undefined) return bindings;
  let nft: ReturnType<Koffi['load']>;
  try {
    nft = koffi().load('libnftables.so.1');
  } catch (err) {
    throw new KapselError('ERR_NFT_UNAVAILABLE', 'load libnftables.so.1', {
      hint: 'install the libnftables1 package (apt-get install libnftables1)',
      cause: err,
    });
  }
  // FFI: struct nft_ctx * is opaque, handed back as a bigint address and owned by the caller
  // until nft_ctx_free(). The command string is copied into a temporary C string for the call;
  // the output/error buffers are owned by the context and copied into JS strings by koffi
  // before the context is freed.
  bindings = {
    ctxNew: nft.func('void *nft_ctx_new(uint32_t flags)'),
    ctxFree: nft.func('void nft_ctx_free(void *ctx)'),
    bufferOutput: nft.func('int nft_ctx_buffer_output(void *ctx)'),
    bufferError: nft.func('int nft_ctx_buffer_error(void *ctx)'),
    setOutputFlags: nft.func('void nft_ctx_output_set_flags(void *ctx, unsigned int flags)'),
    getOutput: nft.func('const char *nft_ctx_get_output_buffer(void *ctx)'),
    getError: nft.func('const char *nft_ctx_get_error_buffer(void *ctx)'),
    runCmd: nft.func('int nft_run_cmd_from_buffer(void *ctx, const char *buf)'),
  };
  return bindings;
}

/**
 * Runs nft command text (one atomic batch) and returns what nft would print. Throws
 * ERR_NFT with nft's own error text (which quotes the failing line) on failure.
 * `what` names the operation for the message: ``apply nftables table `kapsel` ...``.
 */
export function runNft(commands: string, what: string, opts: { handles?: boolean } = {}): string {
  const b = lib();
  const ctx = b.ctxNew(NFT_CTX_DEFAULT);
  if (ctx === null || ctx === 0n) throw new KapselError('ERR_NFT', `${what}: nft_ctx_new failed`);
  try {
    b.bufferOutput(ctx);
    b.bufferError(ctx);
    if (opts.handles === true) b.setOutputFlags(ctx, NFT_CTX_OUTPUT_HANDLE);
    const rc = b.runCmd(ctx, commands);
    if (rc !== 0) {
      const detail = (b.getError(ctx) ?? '').trim();
      throw new KapselError('ERR_NFT', `${what}: ${detail === '' ? `nft returned ${rc}` : detail}`);
    }
    return b.getOutput(ctx) ?? '';
  } finally {
    b.ctxFree(ctx);
  }
}
