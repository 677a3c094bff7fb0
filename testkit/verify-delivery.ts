/**
 * The test kit's full delivery check, as local mode runs it: what went in (records by
 * topic-partition, from events or logs), and S3 and the ledger read back with the raw SDK (none
 * of the sink's code), every object in its format (JSON Lines, Parquet, raw bytes) and every dead
 * letter, compared with it: each record exactly once, in the data or the dead letters, counting
 * only the generation a replay left current, and each partition's ledger at its last offset.
 */
import { ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { isDeepStrictEqual } from 'node:util';
import type { LogRecord } from './kafka/records.ts';
import { formatOf, generationOf, parquetRows, parquetTopicOf, plain, rawValues, readBytes, type StoredObject } from './read-objects.ts';

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
  const rows = await parquetRows(body);
  const topic = parquetTopicOf(key) ?? '?';
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

export interface LedgerEntry {
  readonly id: string;
  readonly generation: string;
  readonly committedOffset: string;
  readonly lastObjectKey: string;
  /** Replays and skips (msk-s3-sink reset), oldest first. */
  readonly resets: ReadonlyArray<{ fromGeneration: number; fromOffset: number; toGeneration: number; toOffset: number }>;
}

export async function readLedger(dynamoDb: DynamoDBClient, table: string): Promise<LedgerEntry[]> {
  const entries: LedgerEntry[] = [];
  let start: Record<string, AttributeValue> | undefined;
  const text = (value: AttributeValue | undefined): string => value?.N ?? value?.S ?? (value?.NULL ? '-' : '?');
  do {
    const page = await dynamoDb.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start }));
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

/** What `verifyDelivery` reads and compares. */
export interface DeliveryToVerify {
  readonly bucket: string;
  /** The data objects and the dead letters, as listed. */
  readonly objects: readonly StoredObject[];
  readonly deadLetters: readonly StoredObject[];
  /** What went in. */
  readonly expected: Expected;
  /** The ledger as read back (`readLedger`). */
  readonly ledger: readonly LedgerEntry[];
  /** Raw-bytes objects' separator (`rawSeparator`). */
  readonly separator: Buffer;
}

/**
 * Reads every object back in its format (JSON Lines, Parquet, raw bytes) and every dead letter,
 * and compares with what went in: each record exactly once, in the data or the dead letters.
 */
export async function verifyDelivery(s3: S3Client, input: DeliveryToVerify): Promise<Verification> {
  const { bucket, objects, deadLetters, expected, ledger, separator } = input;
  const seen = new Map<string, Set<number>>();
  const lines = new Map<string, number>();
  let delivered = 0;
  let duplicates = 0;
  let unexpected = 0;
  let outOfOrder = 0;
  let valueMismatches = 0;
  let superseded = 0;
  let linesBytes = 0;
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
    const doc = JSON.parse((await readBytes(s3, bucket, object.key)).toString('utf8')) as {
      topic: string;
      partition: number;
      offset: number;
      value: string | null;
    };
    const record: ReadRecord = {
      topic: doc.topic,
      partition: doc.partition,
      offset: doc.offset,
      matches: (sent) => doc.value === (sent === null ? null : sent.toString('base64')),
    };
    if (tally(generationOf(object.key), record)) deadLettered.add(`${doc.topic}-${doc.partition}@${doc.offset}`);
  }

  for (const object of objects) {
    const generation = generationOf(object.key);
    const body = await readBytes(s3, bucket, object.key);
    linesBytes += body.byteLength;
    const format = formatOf(object.key);
    let records: ReadRecord[];
    if (format === 'parquet') {
      records = await parquetRecords(object.key, body);
    } else if (format === 'raw') {
      // Raw bytes hold values only: the object's metadata names its range; tombstones and dead
      // letters are not in it, so the values are the range's other offsets, in order.
      const meta = (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: object.key }))).Metadata ?? {};
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
