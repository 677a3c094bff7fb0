/**
 * Compression codecs for object bodies. Each is deterministic: the same body gives the same
 * bytes (gzip writes no timestamp or name; zstd runs single-threaded at a fixed level), so a
 * retried write of the same records produces the same object.
 */
import { promisify } from 'node:util';
import { constants, gzip as gzipCallback, gzipSync, zstdCompress as zstdCallback, zstdCompressSync, type ZstdOptions } from 'node:zlib';
import { CompressionName, type Compression } from './record-format.ts';

/** zstd's default level, pinned so that a change of library default cannot change our bytes. */
const ZSTD_LEVEL = 3;

const gzipAsync = promisify(gzipCallback);
const zstdAsync = promisify(zstdCallback) as (body: Uint8Array, options: ZstdOptions) => Promise<Buffer>;

const gzip: Compression = {
  name: CompressionName.gzip,
  extension: '.gz',
  contentType: 'application/gzip',
  compress: (body) => gzipSync(body),
  compressAsync: (body) => gzipAsync(body),
};

/** zstd's parameters: the level, a checksum, and the content size in the frame header (readers size their buffer by it). */
function zstdOptions(body: Uint8Array): ZstdOptions {
  return {
    params: {
      [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL,
      [constants.ZSTD_c_checksumFlag]: 1,
    },
    pledgedSrcSize: body.byteLength,
  };
}

const zstd: Compression = {
  name: CompressionName.zstd,
  extension: '.zst',
  contentType: 'application/zstd',
  compress: (body) => zstdCompressSync(body, zstdOptions(body)),
  compressAsync: (body) => zstdAsync(body, zstdOptions(body)),
};

const none: Compression = {
  name: CompressionName.none,
  extension: '',
  contentType: undefined,
  compress: (body) => body,
};

const codecs: Readonly<Record<CompressionName, Compression>> = { gzip, zstd, none };

export function compressionFor(name: CompressionName): Compression {
  const codec = codecs[name];
  if (codec === undefined) throw new TypeError(`Unknown compression: ${String(name)}`);
  return codec;
}
