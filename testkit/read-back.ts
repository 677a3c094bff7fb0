/**
 * The independent check of the chaos suite: reads S3 back with the raw SDK (none of the sink's
 * code), decompresses every object by its extension, parses every line, and compares what it
 * finds with the Kafka log: every record exactly once, in offset order within its object, with
 * its value intact. Reading (listing, decompressing, Parquet) is read-objects.ts, shared with
 * local mode's fuller check in verify-delivery.ts.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { type LogRecord, recordId, valueKindOf } from './kafka/records.ts';
import { formatOf, generationOf, listObjects, parquetRows, parquetTopicOf, readBytes } from './read-objects.ts';

export interface DeliveredLine {
  readonly key: string;
  readonly generation: number;
  readonly line: Record<string, unknown>;
}

/** Every object under a prefix, as bytes (decompressed by extension). */
export async function readObjects(s3: S3Client, bucket: string, prefix: string): Promise<Map<string, Buffer>> {
  const objects = new Map<string, Buffer>();
  for (const { key } of await listObjects(s3, bucket, prefix)) objects.set(key, await readBytes(s3, bucket, key));
  return objects;
}

/** Every delivered line under the sink prefix, with the generation its key names. */
export async function readDelivered(s3: S3Client, bucket: string, prefix: string): Promise<DeliveredLine[]> {
  const lines: DeliveredLine[] = [];
  for (const [key, body] of await readObjects(s3, bucket, prefix)) {
    const generation = generationOf(key);
    if (formatOf(key) === 'parquet') {
      const topic = parquetTopicOf(key);
      for (const line of await parquetLines(body)) lines.push({ key, generation, line: { topic, ...line } });
      continue;
    }
    const text = body.toString('utf8');
    if (text === '') continue;
    if (!text.endsWith('\n')) throw new Error(`${key}: last line not terminated`);
    for (const raw of text.slice(0, -1).split('\n')) lines.push({ key, generation, line: JSON.parse(raw) });
  }
  return lines;
}

/**
 * A Parquet object's rows, read with hyparquet (an independent reader: not the writer's code),
 * in the JSON Lines shape the checker reads: the kafka_* columns, and the other columns as the
 * value object (null when every one is null: a tombstone).
 */
export async function parquetLines(body: Buffer): Promise<Array<Record<string, unknown>>> {
  const rows = await parquetRows(body);
  return rows.map((row) => {
    const value: Record<string, unknown> = {};
    let present = false;
    for (const [name, field] of Object.entries(row)) {
      if (name.startsWith('kafka_')) continue;
      value[name] = field;
      if (field !== null && field !== undefined) present = true;
    }
    const timestamp = row['kafka_timestamp'];
    return {
      partition: Number(row['kafka_partition']),
      offset: Number(row['kafka_offset']),
      timestamp: timestamp instanceof Date ? timestamp.getTime() : timestamp === null ? null : Number(timestamp),
      value: present ? value : null,
    };
  });
}

export interface CheckResult {
  readonly expected: number;
  readonly delivered: number;
  readonly lost: string[];
  readonly duplicated: string[];
  readonly unexpected: string[];
  readonly outOfOrder: string[];
  readonly corrupted: string[];
}

/** True when the check found nothing wrong. */
export function exactlyOnce(result: CheckResult): boolean {
  return (
    result.lost.length + result.duplicated.length + result.unexpected.length + result.outOfOrder.length + result.corrupted.length === 0
  );
}

/**
 * Compares delivered lines with the records that must be there (`expected`), optionally only
 * those of one generation. A record expected in the dead letters is passed in `deadLettered`
 * and must not be in the data.
 */
export function check(
  expected: readonly LogRecord[],
  delivered: readonly DeliveredLine[],
  options: { readonly generation?: number } = {},
): CheckResult {
  const lines = options.generation === undefined ? delivered : delivered.filter((d) => d.generation === options.generation);
  const want = new Map(expected.map((record) => [recordId(record.topic, record.partition, record.offset), record]));
  const seen = new Map<string, number>();
  const result: CheckResult = {
    expected: expected.length,
    delivered: lines.length,
    lost: [],
    duplicated: [],
    unexpected: [],
    outOfOrder: [],
    corrupted: [],
  };
  const lastInObject = new Map<string, number>();
  for (const { key, line } of lines) {
    const id = recordId(String(line['topic']), Number(line['partition']), Number(line['offset']));
    seen.set(id, (seen.get(id) ?? 0) + 1);
    const previous = lastInObject.get(key);
    if (previous !== undefined && previous >= Number(line['offset'])) result.outOfOrder.push(`${key}: ${id}`);
    lastInObject.set(key, Number(line['offset']));
    const record = want.get(id);
    if (!record) {
      result.unexpected.push(id);
      continue;
    }
    if (!valueMatches(record, line)) result.corrupted.push(id);
  }
  for (const [id, count] of seen) if (count > 1) result.duplicated.push(id);
  for (const id of want.keys()) if (!seen.has(id)) result.lost.push(id);
  return result;
}

function valueMatches(record: LogRecord, line: Record<string, unknown>): boolean {
  const value = line['value'];
  switch (valueKindOf(record)) {
    case 'json':
      return (value as { id?: unknown } | null)?.id === recordId(record.topic, record.partition, record.offset);
    case 'text':
    case 'poison':
      return value === record.value!.toString('utf8');
    case 'binary':
      return value === record.value!.toString('base64') && line['valueEncoding'] === 'base64';
    case 'tombstone':
      return value === null;
  }
}

/** What a time-based, rotating layout promises of every object, checked on the delivered lines. */
export interface LayoutExpectation {
  /** The directory an object of a record with this timestamp must be in (computed independently). */
  readonly path: (timestamp: number) => string;
  readonly maxRecords?: number;
  /** Every record's timestamp is before the object's first record's + this. */
  readonly intervalMs?: number;
}

/**
 * Checks every object against the layout: all its records in the time partition its key names
 * (never two), at most `maxRecords` of them, none at or past its first record's time + interval.
 * Returns one line per violation.
 */
export function checkLayout(delivered: readonly DeliveredLine[], prefix: string, expectation: LayoutExpectation): string[] {
  const problems: string[] = [];
  const byKey = new Map<string, DeliveredLine[]>();
  for (const line of delivered) byKey.set(line.key, [...(byKey.get(line.key) ?? []), line]);
  for (const [key, lines] of byKey) {
    const rest = key.slice(prefix.length);
    const directory = rest.slice(rest.indexOf('/') + 1, rest.lastIndexOf('/'));
    const first = Number(lines[0]!.line['timestamp']);
    if (expectation.maxRecords !== undefined && lines.length > expectation.maxRecords) {
      problems.push(`${key}: ${lines.length} records, more than ${expectation.maxRecords}`);
    }
    for (const { line } of lines) {
      const timestamp = Number(line['timestamp']);
      if (expectation.path(timestamp) !== directory)
        problems.push(`${key}: offset ${line['offset']} (${new Date(timestamp).toISOString()}) belongs in ${expectation.path(timestamp)}`);
      if (expectation.intervalMs !== undefined && timestamp >= first + expectation.intervalMs) {
        problems.push(`${key}: offset ${line['offset']} is ${timestamp - first} ms after the object's first record`);
      }
    }
  }
  return problems;
}

/** Hive-style hourly path of a timestamp in a fixed UTC offset (independent of lib/layout/layout.ts). */
export function hourlyPath(offsetMinutes = 0): (timestamp: number) => string {
  return (timestamp) => {
    const d = new Date(timestamp + offsetMinutes * 60_000);
    const two = (n: number) => String(n).padStart(2, '0');
    return `year=${d.getUTCFullYear()}/month=${two(d.getUTCMonth() + 1)}/day=${two(d.getUTCDate())}/hour=${two(d.getUTCHours())}`;
  };
}
