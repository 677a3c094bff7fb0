/**
 * Test support for the compactor: what the handler would stage, and reading records back. Tests
 * and a local demonstration only; nothing of the sink's runtime path imports it.
 */
import { gunzipSync, gzipSync, zstdCompressSync } from 'node:zlib';
import { objectKey } from '../layout/naming.ts';
import { toMetadata } from '../layout/object-metadata.ts';
import type { MemoryBucket } from './in-memory.ts';
import { zstdDecompressAll } from '../format/zstd-frames.ts';

/** How a staged body is compressed. */
export type TestCompression = 'gzip' | 'zstd' | 'none';

const EXTENSION: Readonly<Record<TestCompression, string>> = { gzip: '.jsonl.gz', zstd: '.jsonl.zst', none: '.jsonl' };
const CONTENT_TYPE: Readonly<Record<TestCompression, string>> = {
  gzip: 'application/gzip',
  zstd: 'application/zstd',
  none: 'application/x-ndjson',
};

/** A record's JSON Lines line: its offset, which is all a reader needs to count it. */
export function recordLine(offset: number): string {
  return `{"offset":${offset}}\n`;
}

/** Compresses a body as the sink's codecs do (one gzip member or zstd frame per object). */
export function compressBody(text: string, compression: TestCompression): Uint8Array {
  const raw = Buffer.from(text, 'utf8');
  if (compression === 'gzip') return gzipSync(raw);
  if (compression === 'zstd') return zstdCompressSync(raw);
  return raw;
}

/** The offsets of the records in a (possibly concatenated) body, in order: every gzip member, every zstd frame. */
export function offsetsIn(body: Uint8Array, compression: TestCompression): number[] {
  const raw = compression === 'gzip' ? gunzipSync(body) : compression === 'zstd' ? zstdDecompressAll(body) : Buffer.from(body);
  const text = raw.toString('utf8');
  if (text === '') return [];
  if (!text.endsWith('\n')) throw new Error('body does not end with a newline');
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => (JSON.parse(line) as { offset: number }).offset);
}

/** What the handler stages: one object of the chain. */
export interface StagedRange {
  readonly topic: string;
  readonly partition: number;
  readonly generation: number;
  /** The committed offset the handler read (the object's `after-offset`). */
  readonly afterOffset: number;
  /** The records' offsets, ascending, all above `afterOffset`. */
  readonly offsets: readonly number[];
  /** The directory of its first record; default `partition={p}`. */
  readonly path?: string;
  readonly compression?: TestCompression;
}

/** The key and the object the handler would create for `range` under `prefix`. */
export function stagedObjectFor(prefix: string, range: StagedRange) {
  const compression = range.compression ?? 'gzip';
  const first = range.offsets[0]!;
  const last = range.offsets.at(-1)!;
  const key = objectKey({
    prefix,
    topic: range.topic,
    partition: range.partition,
    generation: range.generation,
    firstOffset: first,
    extension: EXTENSION[compression],
    ...(range.path === undefined ? {} : { path: range.path }),
  });
  return {
    key,
    body: compressBody(range.offsets.map(recordLine).join(''), compression),
    contentType: CONTENT_TYPE[compression],
    metadata: toMetadata({
      topic: range.topic,
      partition: range.partition,
      generation: range.generation,
      afterOffset: range.afterOffset,
      firstOffset: first,
      lastOffset: last,
      recordCount: range.offsets.length,
      minTimestamp: 1_700_000_000_000 + first,
      maxTimestamp: 1_700_000_000_000 + last,
      format: 'jsonl',
      formatVersion: '1',
    }),
  };
}

/** Stages `range` in `bucket` with `If-None-Match` semantics; returns its key. */
export function stage(bucket: MemoryBucket, prefix: string, range: StagedRange): string {
  const { key, ...object } = stagedObjectFor(prefix, range);
  bucket.putIfAbsent(key, object);
  return key;
}
