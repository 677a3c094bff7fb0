/**
 * Splitting a zstd body into its frames. A compacted `.zst` object is the staged objects' frames
 * end to end, which the zstd format allows and the `zstd` command line and libzstd's streaming
 * readers (DuckDB, Spark, Trino) decode whole. Node's `zlib.zstdDecompressSync` (and its stream)
 * does not: it returns the first frame's content and silently drops the rest. A reader on Node
 * must therefore decode frame by frame: `zstdFrames` finds where each frame ends by walking its
 * header and block headers (RFC 8878 §3.1), without decompressing anything.
 */
import { zstdDecompressSync } from 'node:zlib';

const FRAME_MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

/** The frames of a body, each a view into it; throws `RangeError` naming the byte where it is not zstd. */
export function zstdFrames(body: Uint8Array): Uint8Array[] {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const frames: Uint8Array[] = [];
  let at = 0;
  const need = (bytes: number, what: string): void => {
    if (at + bytes > body.byteLength) throw new RangeError(`zstd body ends inside ${what} at byte ${at} of ${body.byteLength}`);
  };
  while (at < body.byteLength) {
    const start = at;
    need(4, 'a frame magic number');
    const magic = view.getUint32(at, true);
    at += 4;
    if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      need(4, 'a skippable frame size');
      at += 4 + view.getUint32(at, true);
      need(0, 'a skippable frame');
      continue; // metadata only: no content
    }
    if (magic !== FRAME_MAGIC) throw new RangeError(`not a zstd frame at byte ${start}: magic 0x${magic.toString(16)}`);
    need(1, 'a frame header');
    const descriptor = body[at++]!;
    const contentSizeFlag = descriptor >> 6;
    const singleSegment = (descriptor >> 5) & 1;
    const checksum = (descriptor >> 2) & 1;
    const dictionaryFlag = descriptor & 3;
    const header = (singleSegment ? 0 : 1) + [0, 1, 2, 4][dictionaryFlag]! + [singleSegment, 2, 4, 8][contentSizeFlag]!;
    need(header, 'a frame header');
    at += header;
    for (let last = 0; !last; ) {
      need(3, 'a block header');
      const blockHeader = body[at]! | (body[at + 1]! << 8) | (body[at + 2]! << 16);
      at += 3;
      last = blockHeader & 1;
      const type = (blockHeader >> 1) & 3;
      if (type === 3) throw new RangeError(`reserved zstd block type at byte ${at - 3}`);
      const size = type === 1 ? 1 : blockHeader >>> 3;
      need(size, 'a block');
      at += size;
    }
    if (checksum) {
      need(4, 'a frame checksum');
      at += 4;
    }
    frames.push(body.subarray(start, at));
  }
  return frames;
}

/** The whole content of a body of one or more zstd frames (what Node's single call drops past the first). */
export function zstdDecompressAll(body: Uint8Array): Buffer {
  return Buffer.concat(zstdFrames(body).map((frame) => zstdDecompressSync(frame)));
}
