/**
 * Generated Kafka logs, all seeded and repeatable:
 *
 * - `generateStream`: local mode's and the benchmark's stream (topics, partitions, record count
 *   and size, key skew, JSON or binary values, produced at a rate in virtual time), keyed records
 *   placed by Kafka's default partitioner.
 * - `generateLog`: one partition's log for protocol tests, with gapped offsets and values of
 *   every kind (JSON with big numbers, text, binary, tombstones) and headers.
 * - `timedLog`: plain JSON records one step of record time apart, for time-based layouts.
 */
import {
  type LogRecord,
  type PartitionLog,
  type RecordValueKind,
  partitionForKey,
  randomInt,
  recordId,
  rng,
  STREAM_EPOCH,
} from './records.ts';

const TOPIC_NAMES = ['sim.orders', 'sim.clicks', 'sim.payments', 'sim.shipments', 'sim.inventory', 'sim.sessions'];

/** Topic names of the generated stream (Kafka-legal, with dots, apart from the sample events' topics). */
export function topicNames(count: number): string[] {
  return Array.from({ length: count }, (_, index) => TOPIC_NAMES[index] ?? `sim.topic-${index}`);
}

export const VALUE_KINDS = ['json', 'binary', 'mixed'] as const;
export type ValueKind = (typeof VALUE_KINDS)[number];

export interface StreamOptions {
  /** Records produced after the mapping is created. */
  readonly records: number;
  readonly topics: number;
  readonly partitions: number;
  readonly seed?: number;
  /** Probability that offsets skip (compaction, transaction markers); default 0.05. */
  readonly gapRate?: number;
  /**
   * Size of each value in bytes: JSON values are padded up to it (never cut below their natural
   * ~150 bytes), binary values have exactly this size (default 128).
   */
  readonly recordBytes?: number;
  /** 0 (default): keys uniform over `keys`; towards 1: most records on a few hot keys (see `keyIndex`). */
  readonly keySkew?: number;
  /** Distinct keys (default 1000). */
  readonly keys?: number;
  /** `json` (default), `binary` (bytes that are not UTF-8), `mixed` (70 % JSON, 30 % binary). */
  readonly values?: ValueKind;
  /** Records per second produced, in virtual time; undefined: all at once at `STREAM_EPOCH`. */
  readonly rate?: number;
  /** Records already in the topics before the mapping is created (`latest` skips them); default 0. */
  readonly backlog?: number;
}

/**
 * The index of the key of a record among `keys` keys for a uniform draw `u` in [0, 1):
 * `⌊keys · u^(1 + 9·skew)⌋`. Skew 0 is uniform; 0.5 puts about two thirds of the records on the
 * hottest tenth of the keys, 1 about four fifths (and a third on the hottest 1 %).
 */
export function keyIndex(u: number, keys: number, skew: number): number {
  return Math.min(keys - 1, Math.floor(keys * u ** (1 + 9 * skew)));
}

/** When the `index`-th record of a source is produced, in virtual time (the backlog comes first, before `STREAM_EPOCH`). */
export function producedAt(index: number, backlog: number, rate: number | undefined): number {
  const interval = rate === undefined ? 0 : 1000 / rate;
  if (index < backlog) return STREAM_EPOCH - Math.max(1, Math.ceil((backlog - index) * Math.max(interval, 1)));
  return STREAM_EPOCH + Math.floor((index - backlog) * interval);
}

/**
 * Generates `backlog + records` records. Record n goes to topic n mod `topics`; its key is
 * `customer-<i>` with i drawn per `keySkew`, and its partition is the one Kafka's default
 * partitioner picks for that key. JSON values carry `"id": recordId(...)`; binary values start
 * with 0xff (never UTF-8).
 */
export function generateStream(options: StreamOptions): PartitionLog[] {
  const random = rng(options.seed ?? 42);
  const names = topicNames(options.topics);
  const keys = options.keys ?? 1000;
  const skew = options.keySkew ?? 0;
  const backlog = options.backlog ?? 0;
  const kind = options.values ?? 'json';
  const logs = names.map((topic) =>
    Array.from({ length: options.partitions }, (_, partition) => ({ topic, partition, records: [] as LogRecord[], next: 0 })),
  );
  const total = backlog + options.records;
  for (let n = 0; n < total; n++) {
    const topic = n % names.length;
    const customer = `customer-${keyIndex(random(), keys, skew)}`;
    const key = Buffer.from(customer);
    const log = logs[topic]![partitionForKey(key, options.partitions)]!;
    const offset = log.next;
    log.next += random() < (options.gapRate ?? 0.05) ? 2 + Math.floor(random() * 3) : 1;
    const at = producedAt(n, backlog, options.rate);
    const binary = kind === 'binary' || (kind === 'mixed' && random() < 0.3);
    const value = binary
      ? binaryValue(random, options.recordBytes ?? 128)
      : jsonValue(random, recordId(log.topic, log.partition, offset), customer, offset, options.recordBytes);
    log.records.push({ topic: log.topic, partition: log.partition, offset, timestamp: at, producedAt: at, key, value });
  }
  return logs
    .flat()
    .filter((log) => log.records.length > 0)
    .map(({ topic, partition, records }) => ({ topic, partition, records }));
}

function jsonValue(random: () => number, id: string, customer: string, offset: number, size: number | undefined): Buffer {
  const value: Record<string, unknown> = {
    id,
    customer,
    amount: Math.round(random() * 100_000) / 100,
    currency: random() < 0.7 ? 'EUR' : 'USD',
    items: Array.from({ length: 1 + Math.floor(random() * 3) }, (_, i) => ({ sku: `sku-${(offset + i) % 97}`, qty: 1 + i })),
  };
  let text = JSON.stringify(value);
  if (size !== undefined && text.length + 9 < size) {
    value['pad'] = 'x'.repeat(size - text.length - 9); // `,"pad":"…"` adds 9 bytes besides the x's
    text = JSON.stringify(value);
  }
  return Buffer.from(text);
}

function binaryValue(random: () => number, size: number): Buffer {
  const bytes = Buffer.alloc(Math.max(1, size));
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
  bytes[0] = 0xff;
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Protocol tests' logs

export interface LogOptions {
  readonly topic: string;
  readonly partition: number;
  readonly count: number;
  readonly random: () => number;
  /** First offset of the log (default 0). */
  readonly startOffset?: number;
  /** Probability that offsets skip (compaction, transaction markers). */
  readonly gapRate?: number;
  /**
   * Probability of a value that is not JSON ("poison" when the sink requires JSON values), as
   * text; binary values and tombstones come at fixed small rates.
   */
  readonly textRate?: number;
}

/** Generates one partition's log. JSON values carry `{"id": recordId, ...}`; every record says its `kind`. */
export function generateLog(options: LogOptions): LogRecord[] {
  const { topic, partition, count, random } = options;
  const records: LogRecord[] = [];
  let offset = options.startOffset ?? 0;
  for (let index = 0; index < count; index++) {
    if (index > 0) offset += random() < (options.gapRate ?? 0.1) ? randomInt(random, 2, 4) : 1;
    const id = recordId(topic, partition, offset);
    const roll = random();
    let kind: RecordValueKind;
    let value: Buffer | null;
    if (roll < (options.textRate ?? 0.05)) {
      kind = 'text';
      value = Buffer.from(`text ${id}`);
    } else if (roll < (options.textRate ?? 0.05) + 0.04) {
      kind = 'binary';
      value = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00]), Buffer.from(id)]);
    } else if (roll < (options.textRate ?? 0.05) + 0.06) {
      kind = 'tombstone';
      value = null;
    } else {
      kind = 'json';
      value = Buffer.from(
        `{ "id": "${id}", "n": ${offset}, "big": 123456789012345678901234567890, "nested": {"a": [1, 2.50, {"b": null}]} }`,
      );
    }
    records.push({
      topic,
      partition,
      offset,
      timestamp: 1_764_115_200_000 + offset,
      key: random() < 0.2 ? null : Buffer.from(`key-${offset % 7}`),
      value,
      kind,
      headers: random() < 0.3 ? [{ trace: [...Buffer.from(`t-${offset}`)] }] : [],
    });
  }
  return records;
}

/** `count` JSON records (`{"id": recordId}`, no key) from offset 0, one every `stepMs` of record time from `t0`. */
export function timedLog(topic: string, partition: number, count: number, t0: number, stepMs: number): LogRecord[] {
  return Array.from({ length: count }, (_, offset) => ({
    topic,
    partition,
    offset,
    timestamp: t0 + offset * stepMs,
    key: null,
    value: Buffer.from(JSON.stringify({ id: recordId(topic, partition, offset) })),
    kind: 'json' as const,
    headers: [],
  }));
}
