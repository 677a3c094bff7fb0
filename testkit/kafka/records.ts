/**
 * The test kit's one model of Kafka records, shared by local mode (`npm start`), the benchmark
 * and the tests: a record as the broker holds it, a partition's log, a batch's slice of one
 * partition, a record's identity, a seeded PRNG, and Kafka's default partitioner. Generators are
 * in generate.ts, Lambda events in events.ts, the event source mapping in mapping.ts.
 */

/** A deterministic PRNG (mulberry32), so that a run or a test can be repeated exactly. */
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

/** An integer in [min, max], both included, drawn from `random`. */
export function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** A record header as the Lambda event carries it: `{name: [bytes]}`. */
export type EventHeader = Readonly<Record<string, readonly number[]>>;

/**
 * What a record's value is, as the generator made it, so that a checker knows what the sink must
 * have written: JSON, text that is not JSON (`poison` where the sink requires JSON), bytes that
 * are not UTF-8, or a tombstone. See `valueKindOf` for records that do not say.
 */
export type RecordValueKind = 'json' | 'text' | 'binary' | 'tombstone' | 'poison';

/** A record as the broker holds it. */
export interface LogRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** CREATE_TIME, epoch ms. */
  readonly timestamp: number;
  readonly key: Buffer | null;
  /** Null: a tombstone. */
  readonly value: Buffer | null;
  /** Absent: none. */
  readonly headers?: readonly EventHeader[];
  /** Absent: judged from the value (`valueKindOf`). */
  readonly kind?: RecordValueKind;
  /**
   * When the record reached the broker, in a simulation's virtual time (epoch ms); defaults to
   * `timestamp`. Non-decreasing along a partition's log.
   */
  readonly producedAt?: number;
}

/** The kind of a record's value: as the record says, else JSON if it parses, text if UTF-8, else binary. */
export function valueKindOf(record: LogRecord): RecordValueKind {
  if (record.kind !== undefined) return record.kind;
  if (record.value === null) return 'tombstone';
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(record.value);
  } catch {
    return 'binary';
  }
  try {
    JSON.parse(text);
    return 'json';
  } catch {
    return 'text';
  }
}

/** One partition's log, in offset order. */
export interface PartitionLog {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly LogRecord[];
}

/** One partition's slice of a batch (consecutive records of its log). */
export interface BatchSlice {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly LogRecord[];
}

/** `<topic>/<partition>/<offset>`: the identity of a record, also the `id` field of its JSON value. */
export function recordId(topic: string, partition: number, offset: number): string {
  return `${topic}/${partition}/${offset}`;
}

/** Virtual time at which a simulated event source mapping is created (2025-11-26T00:00:00Z). */
export const STREAM_EPOCH = 1_764_115_200_000;

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
