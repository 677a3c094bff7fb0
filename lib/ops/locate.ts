import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { parquetReadObjects } from 'hyparquet';
import { parseObjectName, topicPrefix } from '../layout/naming.ts';
import { fromMetadata } from '../layout/object-metadata.ts';
import type { SkippedRange } from '../core/ports.ts';
import { catalog, generationWindows } from '../manifest/catalog.ts';
import type { AuditedLedgerEntry } from '../ledger/admin.ts';
import type { Inventory } from '../aws/s3-inventory.ts';

/** Where a record is. */
export interface Location {
  readonly key: string;
  readonly generation: number;
  readonly firstOffset: number;
  readonly lastOffset: number;
  readonly recordCount: number;
  /** The record found (by timestamp: the first at or after it); undefined when not read. */
  readonly offset?: number;
  readonly timestamp?: number;
  /**
   * Set when the offset asked for is not in the log (Kafka skipped it: compaction, transaction
   * markers, records the mapping discarded): the location is then the next record's.
   */
  readonly skipped?: {
    readonly offset: number;
    /** The skipped range the ledger recorded (`skippedRanges`) that holds the offset, if any. */
    readonly range?: SkippedRange;
  };
}

/**
 * The current object that holds `offset` of a partition: the generation whose window covers the
 * offset, then the object of that generation whose range does. Objects are listed (keys sort by
 * first offset) and only the candidates' metadata is read.
 *
 * An offset the log skipped (inside an object's range but not among its records, or between two
 * objects the chain links directly: the later one's `after-offset` is below it) gives the next
 * record's location with `skipped` set. Undefined: not delivered (above the committed offset, or
 * an object of the chain is missing: `verify` reports that gap).
 */
export async function locateOffset(
  inventory: Inventory,
  options: { readonly prefix: string; readonly entry: AuditedLedgerEntry; readonly offset: number },
): Promise<Location | undefined> {
  const { entry, offset } = options;
  const window = generationWindows(entry).find((w) => w.start < offset && offset <= w.currentUpTo);
  if (!window) return undefined;
  const objects = await catalogKeys(inventory, topicPrefix(options.prefix, entry.topic), entry.partition, window.generation);
  let candidate: { key: string; firstOffset: number } | undefined;
  let following: { key: string; firstOffset: number } | undefined;
  for (const object of objects) {
    if (object.firstOffset <= offset && (!candidate || object.firstOffset > candidate.firstOffset)) candidate = object;
    if (
      object.firstOffset > offset &&
      object.firstOffset <= window.currentUpTo &&
      (!following || object.firstOffset < following.firstOffset)
    )
      following = object;
  }
  const range = entry.skippedRanges?.find((r) => r.generation === window.generation && r.fromOffset <= offset && offset <= r.toOffset);
  const skipped = { offset, ...(range ? { range } : {}) };
  const candidateHead = candidate ? await inventory.head(candidate.key) : undefined;
  const d = candidate && candidateHead ? fromMetadata(candidate.key, candidateHead) : undefined;
  if (candidate && d && offset <= d.lastOffset) {
    const summary = {
      key: candidate.key,
      generation: d.generation,
      firstOffset: d.firstOffset,
      lastOffset: d.lastOffset,
      recordCount: d.recordCount,
    };
    // Raw bytes carry no offsets: the object whose range covers the offset is the answer.
    if (isRawBytes(candidate.key)) return summary;
    const record = await findRecord(inventory, candidate.key, (line) => line.offset >= offset);
    if (!record) return undefined;
    return { ...summary, ...record, ...(record.offset === offset ? {} : { skipped }) };
  }
  // Between objects (or before the generation's first): skipped only if the chain links over it.
  if (!following) return undefined;
  const followingHead = await inventory.head(following.key);
  if (!followingHead) return undefined;
  const next = fromMetadata(following.key, followingHead);
  if (!(next.afterOffset < offset)) return undefined;
  const summary = {
    key: following.key,
    generation: next.generation,
    firstOffset: next.firstOffset,
    lastOffset: next.lastOffset,
    recordCount: next.recordCount,
  };
  if (isRawBytes(following.key)) return { ...summary, skipped };
  const record = await findRecord(inventory, following.key, () => true);
  return { ...summary, ...(record ?? {}), skipped };
}

/**
 * The current object holding the first record of a partition at or after `timestamp` (by the
 * objects' `max-timestamp` metadata, then reading the candidate). Kafka timestamps need not grow
 * with offsets: this is the first in offset order whose timestamp is at or after the time.
 */
export async function locateTimestamp(
  inventory: Inventory,
  options: { readonly prefix: string; readonly entry: AuditedLedgerEntry; readonly timestamp: number },
): Promise<Location | undefined> {
  const { entry } = options;
  const windows = generationWindows(entry);
  const objects = (await catalog(inventory, { prefix: options.prefix, topic: entry.topic, partition: entry.partition }))
    .filter((o) => o.descriptor !== undefined)
    .filter((o) => {
      const w = windows.find((window) => window.generation === o.generation);
      return w !== undefined && o.descriptor!.afterOffset >= w.start && o.firstOffset <= w.currentUpTo && o.descriptor!.lastOffset <= w.end;
    })
    .sort((a, b) => a.firstOffset - b.firstOffset || a.generation - b.generation);
  for (const object of objects) {
    const d = object.descriptor!;
    if (d.maxTimestamp === undefined || d.maxTimestamp < options.timestamp) continue;
    const window = windows.find((w) => w.generation === object.generation)!;
    if (isRawBytes(object.key))
      return {
        key: object.key,
        generation: d.generation,
        firstOffset: d.firstOffset,
        lastOffset: d.lastOffset,
        recordCount: d.recordCount,
      };
    const record = await findRecord(
      inventory,
      object.key,
      (line) => line.timestamp !== null && line.timestamp >= options.timestamp && line.offset <= window.currentUpTo,
    );
    if (record) {
      return {
        key: object.key,
        generation: d.generation,
        firstOffset: d.firstOffset,
        lastOffset: d.lastOffset,
        recordCount: d.recordCount,
        ...record,
      };
    }
  }
  return undefined;
}

/** A partition's objects of one generation, in any layout: the topic's prefix listed, file names parsed. */
async function catalogKeys(
  inventory: Inventory,
  prefix: string,
  partition: number,
  generation: number,
): Promise<Array<{ key: string; firstOffset: number }>> {
  const found: Array<{ key: string; firstOffset: number }> = [];
  for await (const object of inventory.list(prefix)) {
    const name = parseObjectName(object.key.slice(object.key.lastIndexOf('/') + 1));
    if (name?.generation === generation && name.partition === partition) found.push({ key: object.key, firstOffset: name.firstOffset });
  }
  return found;
}

async function findRecord(
  inventory: Inventory,
  key: string,
  match: (line: { offset: number; timestamp: number | null }) => boolean,
): Promise<{ offset: number; timestamp?: number } | undefined> {
  const body = await inventory.read(key);
  if (key.endsWith('.parquet')) {
    for (const line of await parquetOffsets(body))
      if (match(line)) return { offset: line.offset, ...(line.timestamp === null ? {} : { timestamp: line.timestamp }) };
    return undefined;
  }
  const text = body.toString('utf8');
  for (const raw of text.split('\n')) {
    if (raw === '') continue;
    const line = JSON.parse(raw) as { offset: number; timestamp: number | null };
    if (match(line)) return { offset: line.offset, ...(line.timestamp === null ? {} : { timestamp: line.timestamp }) };
  }
  return undefined;
}

/** Raw-bytes objects (`.bin`, maybe compressed) hold values only: no offsets or timestamps to read. */
function isRawBytes(key: string): boolean {
  return /\.bin(\.gz|\.zst)?$/.test(key);
}

/** The offset and timestamp columns of a Parquet object (hyparquet; GZIP and ZSTD pages by zlib). */
async function parquetOffsets(body: Buffer): Promise<Array<{ offset: number; timestamp: number | null }>> {
  if (body.byteLength === 0) return [];
  const file = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
  const rows = await parquetReadObjects({
    file,
    columns: ['kafka_offset', 'kafka_timestamp'],
    compressors: {
      GZIP: (input: Uint8Array) => new Uint8Array(gunzipSync(input)),
      ZSTD: (input: Uint8Array) => new Uint8Array(zstdDecompressSync(input)),
    },
  });
  return rows.map((row) => {
    const timestamp = row['kafka_timestamp'] as Date | null;
    return { offset: Number(row['kafka_offset']), timestamp: timestamp === null ? null : timestamp.getTime() };
  });
}
