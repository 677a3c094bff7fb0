/**
 * A compacted `.zst` object is frames end to end. Node reads only the first frame of such a body,
 * so readers on Node go frame by frame (`zstdFrames`); these cases hold the frame walker to real
 * codec output: the sink's own zstd settings (content size, checksum), multi-block frames,
 * incompressible (raw) and repetitive (RLE) blocks, skippable frames, and truncation.
 */
import { randomBytes } from 'node:crypto';
import { zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { zstdDecompressAll, zstdFrames } from '../../lib/format/zstd-frames.ts';
import { compressionFor } from '../../lib/format/compression.ts';

const zstd = compressionFor('zstd');

describe('zstd frames end to end', () => {
  it("Node's zstdDecompressSync returns only the first frame of a concatenation (why readers must split)", () => {
    const both = Buffer.concat([zstd.compress(Buffer.from('a\n')), zstd.compress(Buffer.from('b\n'))]);
    expect(zstdDecompressSync(both).toString()).toBe('a\n');
    expect(zstdDecompressAll(both).toString()).toBe('a\nb\n');
  });

  it('splits the sink codec output at frame boundaries, whatever the blocks inside', () => {
    const bodies = [
      Buffer.from('{"offset":1}\n'.repeat(50_000)), // several compressed blocks
      randomBytes(300_000), // raw blocks: incompressible
      Buffer.alloc(200_000, 0x61), // RLE blocks
      Buffer.alloc(0), // an empty frame
    ];
    const frames = bodies.map((body) => zstd.compress(body));
    frames.push(zstdCompressSync(Buffer.from('no content size, no checksum\n')));
    const joined = Buffer.concat(frames);
    const split = zstdFrames(joined);
    expect(split.map((f) => f.byteLength)).toEqual(frames.map((f) => f.byteLength));
    expect(zstdDecompressAll(joined)).toEqual(Buffer.concat([...bodies, Buffer.from('no content size, no checksum\n')]));
  });

  it('passes over skippable frames', () => {
    const skippable = Buffer.alloc(8 + 5);
    skippable.writeUInt32LE(0x184d2a53, 0);
    skippable.writeUInt32LE(5, 4);
    const body = Buffer.concat([zstd.compress(Buffer.from('x\n')), skippable, zstd.compress(Buffer.from('y\n'))]);
    expect(zstdFrames(body)).toHaveLength(2);
    expect(zstdDecompressAll(body).toString()).toBe('x\ny\n');
  });

  it('says where a body stops being zstd: a truncated frame, a foreign magic number', () => {
    const frame = zstd.compress(Buffer.from('{"offset":1}\n'.repeat(1000)));
    expect(() => zstdFrames(frame.subarray(0, frame.byteLength - 2))).toThrow(/ends inside a frame checksum at byte \d+/);
    expect(() => zstdFrames(Buffer.concat([frame, Buffer.from('garbage!')]))).toThrow(`not a zstd frame at byte ${frame.byteLength}`);
  });
});
