/**
 * The Kafka side of local mode (`npm start`): records as the broker holds them, a generated
 * stream (topics, partitions, record count and size, key skew, JSON or binary values, produced
 * at a rate in virtual time), Kafka's default partitioner (murmur2 of the key), and Lambda Kafka
 * events in AWS's shape. The event source mapping itself is testkit/kafka/mapping.ts.
 */

/** A deterministic PRNG (mulberry32), so that a run can be repeated exactly. */
export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A record header as the Lambda event carries it: `{name: [bytes]}`. */
export type EventHeader = Readonly<Record<string, readonly number[]>>;

/** A record as the broker holds it. */
export interface StreamRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** CREATE_TIME, epoch ms. */
  readonly timestamp: number;
  readonly key: Buffer | null;
  /** Null: a tombstone. */
  readonly value: Buffer | null;
  readonly headers?: readonly EventHeader[];
  /**
   * When the record reached the broker, in the simulation's virtual time (epoch ms); defaults to
   * `timestamp`. Non-decreasing along a partition's log.
   */
  readonly producedAt?: number;
}

/** One partition's log. */
export interface PartitionLog {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly StreamRecord[];
}

/** `<topic>/<partition>/<offset>`: the identity of a record, also the `id` field of its JSON value. */
export function recordId(topic: string, partition: number, offset: number): string {
  return `${topic}/${partition}/${offset}`;
}

/** Virtual time at which the simulated event source mapping is created (2025-11-26T00:00:00Z). */
export const STREAM_EPOCH = 1_764_115_200_000;

const TOPIC_NAMES = ['sim.orders', 'sim.clicks', 'sim.payments', 'sim.shipments', 'sim.inventory', 'sim.sessions'];

/** Topic names of the generated stream (Kafka-legal, with dots, apart from the sample events' topics). */
export function topicNames(count: number): string[] {
  return Array.from({ length: count }, (_, index) => TOPIC_NAMES[index] ?? `sim.topic-${index}`);
}

// ---------------------------------------------------------------------------------------------
// Kafka's default partitioner

/** Kafka's `Utils.murmur2` (32-bit MurmurHash2, seed 0x9747b28c), as a signed 32-bit integer. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = (data[i4]! & 0xff) | ((data[i4 + 1]! & 0xff) << 8) | ((data[i4 + 2]! & 0xff) << 16) | ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = length & ~3;
  const rest = length % 4;
  if (rest >= 3) h ^= (data[tail + 2]! & 0xff) << 16;
  if (rest >= 2) h ^= (data[tail + 1]! & 0xff) << 8;
  if (rest >= 1) {
    h ^= data[tail]! & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition Kafka's default partitioner picks for a keyed record: `toPositive(murmur2(key)) % partitions`. */
export function partitionForKey(key: Uint8Array, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

// ---------------------------------------------------------------------------------------------
// The generator

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
    Array.from({ length: options.partitions }, (_, partition) => ({ topic, partition, records: [] as StreamRecord[], next: 0 })),
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
// Lambda events

/** One partition's slice of a batch. */
export interface BatchSlice {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly StreamRecord[];
}

const EVENT_SOURCE_ARN = 'arn:aws:kafka:us-east-1:123456789012:cluster/local/00000000-0000-0000-0000-000000000000-1';

/** The Lambda event for a batch, shaped as an Amazon MSK event source mapping sends it. */
export function toMskEvent(slices: readonly BatchSlice[]): Record<string, unknown> {
  const records: Record<string, unknown[]> = {};
  for (const slice of slices) {
    if (slice.records.length === 0) continue;
    records[`${slice.topic}-${slice.partition}`] = slice.records.map(toEventRecord);
  }
  return { eventSource: 'aws:kafka', eventSourceArn: EVENT_SOURCE_ARN, bootstrapServers: 'b-1.local:9098', records };
}

export function toEventRecord(record: StreamRecord): Record<string, unknown> {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    timestampType: 'CREATE_TIME',
    ...(record.key ? { key: record.key.toString('base64') } : {}),
    ...(record.value ? { value: record.value.toString('base64') } : {}),
    headers: record.headers ?? [],
  };
}

/** Lambda's invocation payload limit for a synchronous invoke, which the mapping respects. */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
