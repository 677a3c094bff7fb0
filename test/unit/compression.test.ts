import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compressionFor } from '../../lib/format/compression.ts';

const body = Buffer.from('{"topic":"orders","partition":0,"offset":1,"value":{"a":1}}\n'.repeat(500), 'utf8');

describe('compressionFor', () => {
  it('gzip: .gz, application/gzip, gzip bytes that decompress to the body', () => {
    const gzip = compressionFor('gzip');
    expect(gzip).toMatchObject({ name: 'gzip', extension: '.gz', contentType: 'application/gzip' });
    const out = gzip.compress(body);
    expect([...out.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    expect(out.byteLength).toBeLessThan(body.byteLength / 10);
    expect(gunzipSync(out)).toEqual(body);
  });

  it('zstd: .zst, application/zstd, a zstd frame that decompresses to the body', () => {
    const zstd = compressionFor('zstd');
    expect(zstd).toMatchObject({ name: 'zstd', extension: '.zst', contentType: 'application/zstd' });
    const out = zstd.compress(body);
    expect([...out.subarray(0, 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
    expect(out.byteLength).toBeLessThan(body.byteLength / 10);
    expect(zstdDecompressSync(out)).toEqual(body);
  });

  it('none: no extension, keeps the content type, returns the body', () => {
    const none = compressionFor('none');
    expect(none).toMatchObject({ name: 'none', extension: '', contentType: undefined });
    expect(none.compress(body)).toBe(body);
  });

  it('is deterministic and lossless for any body, including empty', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.constantFrom('gzip' as const, 'zstd' as const), (bytes, name) => {
        const codec = compressionFor(name);
        const a = codec.compress(bytes);
        const b = codec.compress(Uint8Array.from(bytes));
        expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
        const back = name === 'gzip' ? gunzipSync(a) : zstdDecompressSync(a);
        expect(Buffer.from(back).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('compresses off the event loop to the very bytes of the synchronous codec (a retried write must produce the same object)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4000 }), fc.constantFrom('gzip' as const, 'zstd' as const), async (bytes, name) => {
        const codec = compressionFor(name);
        expect(codec.compressAsync).toBeTypeOf('function');
        const async = await codec.compressAsync!(bytes);
        expect(Buffer.from(async).equals(Buffer.from(codec.compress(bytes)))).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('rejects an unknown codec', () => {
    expect(() => compressionFor('lz4' as never)).toThrow(/Unknown compression/);
  });
});
