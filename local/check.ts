/**
 * Local mode's read-back check: what went in (records by topic-partition), and S3 and the ledger
 * read back with the raw SDK (none of the sink's code), every object in its format and every
 * dead letter, compared with it: each record exactly once, in the data or the dead letters.
 */
import { ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { isUtf8 } from 'node:buffer';
import { isDeepStrictEqual } from 'node:util';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { BUCKET, TABLE } from './options.ts';
import type { LogRecord } from '../testkit/kafka/records.ts';

// ---------------------------------------------------------------------------------------------
// What went in: records by topic-partition, read loosely from events (the handler validates).

export interface Expected {
  /** `topic-partition` → offset → the record's value bytes (null: a tombstone). */
  readonly partitions: Map<string, Map<number, Buffer | null>>;
}

export function countRecords(event: unknown): number {
  const records = (event as { records?: unknown } | null)?.records;
  if (typeof records !== 'object' || records === null) return 0;
  return Object.values(records).reduce((n: number, list) => n + (Array.isArray(list) ? list.length : 0), 0);
}

export function expectFromEvent(expected: Expected, event: unknown): void {
  const records = (event as { records?: Record<string, unknown> }).records ?? {};
  for (const list of Object.values(records)) {
    for (const record of Array.isArray(list) ? (list as Array<Record<string, unknown>>) : []) {
      const value = typeof record['value'] === 'string' ? Buffer.from(record['value'], 'base64') : null;
      expectRecord(expected, String(record['topic']), Number(record['partition']), Number(record['offset']), value);
    }
  }
}

export function expectFromRecords(expected: Expected, records: readonly LogRecord[]): void {
  for (const record of records) expectRecord(expected, record.topic, record.partition, record.offset, record.value);
}

export function expectRecord(expected: Expected, topic: string, partition: number, offset: number, value: Buffer | null): void {
  const id = `${topic}-${partition}`;
  let offsets = expected.partitions.get(id);
  if (offsets === undefined) expected.partitions.set(id, (offsets = new Map()));
  offsets.set(offset, value);
}

/** The value a JSON Lines line holds for these bytes: the JSON itself, else the text, else base64. */
export function lineValue(value: Buffer | null): unknown {
  if (value === null) return null;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(value);
  } catch {
    return value.toString('base64');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading back: S3 and the ledger, with the raw SDK (none of the sink's code)

export interface StoredObject {
  readonly key: string;
  readonly size: number;
}

export async function listObjects(s3: S3Client, prefix: string): Promise<StoredObject[]> {
  const objects: StoredObject[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
    for (const item of page.Contents ?? []) objects.push({ key: item.Key!, size: item.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return objects;
}

export async function readBytes(s3: S3Client, key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  const raw = Buffer.from(await got.Body!.transformToByteArray());
  return key.endsWith('.gz') ? gunzipSync(raw) : key.endsWith('.zst') ? zstdDecompressSync(raw) : raw;
}

/** The object's format, by its key's extension (before compression). */
export function formatOf(key: string): 'jsonl' | 'parquet' | 'raw' {
  if (/\.parquet$/.test(key)) return 'parquet';
  if (/\.bin(?:\.gz|\.zst)?$/.test(key)) return 'raw';
  return 'jsonl';
}

/** A record read back from an object or a dead letter. */
export interface ReadRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** Whether it holds the value sent (the bytes of the record, null for a tombstone). */
  matches(sent: Buffer | null): boolean;
}

/** A Parquet object's rows, read with hyparquet (not the writer's code), as read records. */
export async function parquetRecords(key: string, body: Buffer): Promise<ReadRecord[]> {
  if (body.byteLength === 0) return [];
  const [{ parquetReadObjects }, { compressors }] = await Promise.all([import('hyparquet'), import('hyparquet-compressors')]);
  const file = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
  const rows = (await parquetReadObjects({ file, compressors })) as Array<Record<string, unknown>>;
  const topic = /([^/]+)\+\d+\+\d{20}(?:\+g\d+)?\.parquet$/.exec(key)?.[1] ?? '?';
  return rows.map((row) => {
    const columns = Object.fromEntries(Object.entries(row).filter(([name]) => !name.startsWith('kafka_')));
    return {
      topic,
      partition: Number(row['kafka_partition']),
      offset: Number(row['kafka_offset']),
      matches: (sent) => parquetValueMatches(sent, columns),
    };
  });
}

/** Bigints (INT64) as numbers, all the way down. */
export function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object' && !(value instanceof Date))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value ?? null;
}

/**
 * Whether a Parquet row's value columns hold the JSON object sent: every field in its column
 * (absent fields null), numbers as numbers, JSON and mixed-type columns as JSON text; a
 * tombstone is a row with every value column null.
 */
export function parquetValueMatches(sent: Buffer | null, columns: Record<string, unknown>): boolean {
  const got = plain(columns) as Record<string, unknown>;
  if (sent === null) return Object.values(got).every((v) => v === null);
  const want = lineValue(sent);
  if (typeof want !== 'object' || want === null || Array.isArray(want)) return false;
  for (const name of new Set([...Object.keys(want), ...Object.keys(got)])) {
    if (!(name in got)) return false;
    const expected = (want as Record<string, unknown>)[name] ?? null;
    let actual = got[name];
    if (typeof actual === 'string' && typeof expected !== 'string' && expected !== null) {
      try {
        actual = JSON.parse(actual) as unknown;
      } catch {
        return false;
      }
    }
    if (!isDeepStrictEqual(expected, actual)) return false;
  }
  return true;
}

/** `SINK_RAW_SEPARATOR` as bytes (JSON string escapes), default a newline. */
export function rawSeparator(): Buffer {
  const text = process.env['SINK_RAW_SEPARATOR'];
  return Buffer.from(text === undefined ? '\n' : (JSON.parse(`"${text.replace(/"/g, '\\"')}"`) as string), 'utf8');
}

/** Splits a raw-bytes body into its values (each followed by the separator). */
export function rawValues(body: Buffer, separator: Buffer): Buffer[] | undefined {
  if (body.byteLength === 0) return [];
  if (!body.subarray(body.byteLength - separator.byteLength).equals(separator)) return undefined;
  const values: Buffer[] = [];
  let start = 0;
  while (start < body.byteLength) {
    const end = body.indexOf(separator, start);
    values.push(body.subarray(start, end));
    start = end + separator.byteLength;
  }
  return values;
}

/** The first 3 records of an object as text: JSON Lines lines, Parquet rows as JSON, raw values. */
export async function sampleLines(s3: S3Client, key: string): Promise<string[]> {
  const body = await readBytes(s3, key);
  if (formatOf(key) === 'parquet') {
    if (body.byteLength === 0) return [];
    const [{ parquetReadObjects }, { compressors }] = await Promise.all([import('hyparquet'), import('hyparquet-compressors')]);
    const file = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
    const rows = (await parquetReadObjects({ file, compressors, rowEnd: 3 })) as Array<Record<string, unknown>>;
    return rows.map((row) => JSON.stringify(plain(row)));
  }
  if (formatOf(key) === 'raw') {
    return (rawValues(body, rawSeparator()) ?? [])
      .slice(0, 3)
      .map((value) => (isUtf8(value) ? value.toString('utf8') : `(binary, base64) ${value.toString('base64')}`));
  }
  return body
    .toString('utf8')
    .split('\n')
    .filter((line) => line !== '')
    .slice(0, 3);
}

export async function readBody(s3: S3Client, key: string): Promise<string> {
  return (await readBytes(s3, key)).toString('utf8');
}

export interface LedgerEntry {
  readonly id: string;
  readonly generation: string;
  readonly committedOffset: string;
  readonly lastObjectKey: string;
  /** Replays and skips (msk-s3-sink reset), oldest first. */
  readonly resets: ReadonlyArray<{ fromGeneration: number; fromOffset: number; toGeneration: number; toOffset: number }>;
}

export async function readLedger(dynamoDb: DynamoDBClient): Promise<LedgerEntry[]> {
  const entries: LedgerEntry[] = [];
  let start: Record<string, AttributeValue> | undefined;
  const text = (value: AttributeValue | undefined): string => value?.N ?? value?.S ?? (value?.NULL ? '-' : '?');
  do {
    const page = await dynamoDb.send(new ScanCommand({ TableName: TABLE, ConsistentRead: true, ExclusiveStartKey: start }));
    for (const item of page.Items ?? []) {
      entries.push({
        id: `${text(item['topic'])}-${text(item['partition'])}`,
        generation: text(item['generation']),
        committedOffset: text(item['committedOffset']),
        lastObjectKey: text(item['lastObjectKey']),
        resets: (item['resets']?.L ?? []).map((reset) => ({
          fromGeneration: Number(reset.M?.['fromGeneration']?.N),
          fromOffset: Number(reset.M?.['fromOffset']?.N),
          toGeneration: Number(reset.M?.['toGeneration']?.N),
          toOffset: Number(reset.M?.['toOffset']?.N),
        })),
      });
    }
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return entries.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
}

export interface Verification {
  readonly expected: number;
  readonly delivered: number;
  readonly duplicates: number;
  readonly missing: number;
  readonly unexpected: number;
  readonly outOfOrder: number;
  readonly valueMismatches: number;
  /** Lines of objects that a later generation replaced (after a reset): not counted. */
  readonly superseded: number;
  readonly ledgerMismatches: string[];
  readonly perPartition: Map<string, { expected: number; delivered: number }>;
  /** Decompressed JSON Lines bytes of every object. */
  readonly linesBytes: number;
  ok(): boolean;
}

/**
 * The rule a reader applies after replays (README, "Which objects are current"): a record counts
 * when its object's generation is the one whose window holds its offset — after the generation's
 * start, up to where the next generation took over (or, for the current one, its commit).
 */
export function isCurrent(entry: LedgerEntry | undefined, generation: number, offset: number): boolean {
  if (entry === undefined || entry.resets.length === 0) return generation === 0 || entry === undefined;
  let start = -1;
  for (const reset of entry.resets) {
    if (reset.fromGeneration === generation) return offset > start && offset <= Math.min(reset.fromOffset, reset.toOffset);
    start = reset.toOffset;
  }
  return generation === Number(entry.generation) && offset > start;
}

/**
 * Reads every object back in its format (JSON Lines, Parquet, raw bytes) and every dead letter,
 * and compares with what went in: each record exactly once, in the data or the dead letters.
 */
export async function verify(
  s3: S3Client,
  objects: readonly StoredObject[],
  deadLetters: readonly StoredObject[],
  expected: Expected,
  ledger: readonly LedgerEntry[],
): Promise<Verification> {
  const seen = new Map<string, Set<number>>();
  const lines = new Map<string, number>();
  let delivered = 0;
  let duplicates = 0;
  let unexpected = 0;
  let outOfOrder = 0;
  let valueMismatches = 0;
  let superseded = 0;
  let linesBytes = 0;
  const generationOf = (key: string) => Number(/\+g(\d+)\.[^/]*$/.exec(key)?.[1] ?? 0);
  /** Counts one record read back; false when it is not current (superseded by a replay). */
  const tally = (generation: number, record: ReadRecord): boolean => {
    const id = `${record.topic}-${record.partition}`;
    if (
      !isCurrent(
        ledger.find((entry) => entry.id === id),
        generation,
        record.offset,
      )
    ) {
      superseded++;
      return false;
    }
    delivered++;
    lines.set(id, (lines.get(id) ?? 0) + 1);
    let offsets = seen.get(id);
    if (offsets === undefined) seen.set(id, (offsets = new Set()));
    if (offsets.has(record.offset)) duplicates++;
    offsets.add(record.offset);
    const want = expected.partitions.get(id);
    if (want === undefined || !want.has(record.offset)) unexpected++;
    else if (!record.matches(want.get(record.offset)!)) valueMismatches++;
    return true;
  };

  // Dead letters first: a raw-bytes object's range leaves out the offsets that went there.
  const deadLettered = new Set<string>();
  for (const object of deadLetters) {
    const doc = JSON.parse(await readBody(s3, object.key)) as { topic: string; partition: number; offset: number; value: string | null };
    const record: ReadRecord = {
      topic: doc.topic,
      partition: doc.partition,
      offset: doc.offset,
      matches: (sent) => doc.value === (sent === null ? null : sent.toString('base64')),
    };
    if (tally(generationOf(object.key), record)) deadLettered.add(`${doc.topic}-${doc.partition}@${doc.offset}`);
  }

  const separator = rawSeparator();
  for (const object of objects) {
    const generation = generationOf(object.key);
    const body = await readBytes(s3, object.key);
    linesBytes += body.byteLength;
    const format = formatOf(object.key);
    let records: ReadRecord[];
    if (format === 'parquet') {
      records = await parquetRecords(object.key, body);
    } else if (format === 'raw') {
      // Raw bytes hold values only: the object's metadata names its range; tombstones and dead
      // letters are not in it, so the values are the range's other offsets, in order.
      const meta = (await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: object.key }))).Metadata ?? {};
      const topic = meta['topic'] ?? '?';
      const partition = Number(meta['partition']);
      const id = `${topic}-${partition}`;
      const sent = expected.partitions.get(id) ?? new Map<number, Buffer | null>();
      const first = Number(meta['first-offset']);
      const last = Number(meta['last-offset']);
      const inRange = [...sent.keys()].filter((o) => o >= first && o <= last && !deadLettered.has(`${id}@${o}`)).sort((a, b) => a - b);
      const values = rawValues(body, separator);
      if (values === undefined) {
        valueMismatches++;
        continue;
      }
      records = [];
      const written = inRange.filter((o) => sent.get(o) !== null);
      // Tombstones are left out of raw bytes: the range accounts for them.
      for (const offset of inRange) if (sent.get(offset) === null) records.push({ topic, partition, offset, matches: () => true });
      values.forEach((value, i) => {
        const offset = written[i];
        if (offset === undefined) unexpected++;
        else records.push({ topic, partition, offset, matches: (want) => want?.equals(value) === true });
      });
      records.sort((a, b) => a.offset - b.offset);
    } else {
      const text = body.toString('utf8');
      records = text
        .split('\n')
        .filter((raw) => raw !== '')
        .map((raw) => {
          const line = JSON.parse(raw) as { topic: string; partition: number; offset: number; value: unknown };
          return {
            topic: line.topic,
            partition: line.partition,
            offset: line.offset,
            matches: (sent) => JSON.stringify(lineValue(sent)) === JSON.stringify(line.value),
          };
        });
    }
    let previous = -1;
    for (const record of records) {
      if (!tally(generation, record)) continue;
      if (record.offset <= previous) outOfOrder++;
      previous = record.offset;
    }
  }
  let total = 0;
  let missing = 0;
  const perPartition = new Map<string, { expected: number; delivered: number }>();
  const ledgerMismatches: string[] = [];
  for (const [id, offsets] of expected.partitions) {
    total += offsets.size;
    const got = seen.get(id) ?? new Set<number>();
    for (const offset of offsets.keys()) if (!got.has(offset)) missing++;
    perPartition.set(id, { expected: offsets.size, delivered: lines.get(id) ?? 0 });
    const last = Math.max(...offsets.keys());
    const entry = ledger.find((e) => e.id === id);
    if (entry?.committedOffset !== String(last))
      ledgerMismatches.push(`${id}: ledger at ${entry?.committedOffset ?? 'none'}, last offset ${last}`);
  }
  for (const [id, n] of lines) if (!perPartition.has(id)) perPartition.set(id, { expected: 0, delivered: n });
  return {
    expected: total,
    delivered,
    duplicates,
    missing,
    unexpected,
    outOfOrder,
    valueMismatches,
    superseded,
    ledgerMismatches,
    perPartition,
    linesBytes,
    ok() {
      return delivered === total && duplicates + missing + unexpected + outOfOrder + valueMismatches + ledgerMismatches.length === 0;
    },
  };
}
