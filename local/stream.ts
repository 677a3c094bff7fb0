/**
 * A generated Kafka stream and a small event source mapping for local mode (`npm start`):
 * partition logs with JSON values, Lambda Kafka events in AWS's shape, and a consumer group
 * that commits a batch only after the function resolves and delivers a failed batch again from
 * the same position (the semantics of test/support/kafka-sim.ts's ConsumerGroupSim, with full
 * batches instead of random ones).
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

/** A record as the broker holds it. */
export interface StreamRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer;
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

const TOPIC_NAMES = ['sim.orders', 'sim.clicks', 'sim.payments', 'sim.shipments', 'sim.inventory', 'sim.sessions'];

/** Topic names of the generated stream (Kafka-legal, with dots, apart from the sample events' topics). */
export function topicNames(count: number): string[] {
  return Array.from({ length: count }, (_, index) => TOPIC_NAMES[index] ?? `sim.topic-${index}`);
}

export interface StreamOptions {
  readonly records: number;
  readonly topics: number;
  readonly partitions: number;
  readonly seed?: number;
  /** Probability that offsets skip (compaction, transaction markers); default 0.05. */
  readonly gapRate?: number;
}

/**
 * Generates `records` records spread evenly over `topics × partitions` partitions (the first
 * partitions get one more when it does not divide). Every value is a JSON object whose `id` is
 * the record's `recordId`.
 */
export function generateStream(options: StreamOptions): PartitionLog[] {
  const random = rng(options.seed ?? 42);
  const names = topicNames(options.topics);
  const total = options.topics * options.partitions;
  const logs: PartitionLog[] = [];
  let index = 0;
  for (const topic of names) {
    for (let partition = 0; partition < options.partitions; partition++, index++) {
      const count = Math.floor(options.records / total) + (index < options.records % total ? 1 : 0);
      const records: StreamRecord[] = [];
      let offset = 0;
      for (let n = 0; n < count; n++) {
        if (n > 0) offset += random() < (options.gapRate ?? 0.05) ? 2 + Math.floor(random() * 3) : 1;
        const id = recordId(topic, partition, offset);
        const customer = Math.floor(random() * 500);
        const value = {
          id,
          customer: `customer-${customer}`,
          amount: Math.round(random() * 100_000) / 100,
          currency: random() < 0.7 ? 'EUR' : 'USD',
          items: Array.from({ length: 1 + Math.floor(random() * 3) }, (_, i) => ({ sku: `sku-${(offset + i) % 97}`, qty: 1 + i })),
        };
        records.push({
          topic,
          partition,
          offset,
          timestamp: 1_764_115_200_000 + offset * 10,
          key: Buffer.from(`customer-${customer}`),
          value: Buffer.from(JSON.stringify(value)),
        });
      }
      if (records.length > 0) logs.push({ topic, partition, records });
    }
  }
  return logs;
}

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

function toEventRecord(record: StreamRecord): Record<string, unknown> {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    timestampType: 'CREATE_TIME',
    ...(record.key ? { key: record.key.toString('base64') } : {}),
    value: record.value.toString('base64'),
    headers: [],
  };
}

/** Lambda's invocation payload limit for a synchronous invoke, which the mapping respects. */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

/** A batch the mapping hands to the function. */
export interface Batch {
  readonly slices: readonly BatchSlice[];
  readonly event: Record<string, unknown>;
  readonly records: number;
  /** The event's size as the function receives it (JSON). */
  readonly payloadBytes: number;
}

/**
 * The event source mapping's consumer group: per partition the next offset to fetch. `poll`
 * takes up to `batchSize` records from every partition that has some left (fewer when the event
 * would exceed 6 MB); `commit` is called only after the function resolved, so a failed batch is
 * fetched again from the same position.
 */
export class EventSourceMappingSim {
  readonly #logs: readonly PartitionLog[];
  /** Index into each log of the next record to fetch (the committed position). */
  readonly #next: number[];
  readonly #batchSize: number;

  constructor(logs: readonly PartitionLog[], options: { readonly batchSize: number }) {
    this.#logs = logs;
    this.#next = logs.map(() => 0);
    this.#batchSize = options.batchSize;
  }

  poll(): Batch | undefined {
    const slices: BatchSlice[] = [];
    let payloadBytes = 0;
    for (const [index, log] of this.#logs.entries()) {
      const from = this.#next[index]!;
      const records = log.records.slice(from, from + this.#batchSize);
      if (records.length === 0) continue;
      slices.push({ topic: log.topic, partition: log.partition, records });
    }
    if (slices.length === 0) return undefined;
    // Shrink the batch until it fits Lambda's payload limit.
    let event = toMskEvent(slices);
    payloadBytes = Buffer.byteLength(JSON.stringify(event));
    while (payloadBytes > MAX_PAYLOAD_BYTES) {
      const largest = slices.reduce((a, b) => (b.records.length > a.records.length ? b : a));
      if (largest.records.length === 1) slices.splice(slices.indexOf(largest), 1);
      else slices[slices.indexOf(largest)] = { ...largest, records: largest.records.slice(0, Math.ceil(largest.records.length / 2)) };
      event = toMskEvent(slices);
      payloadBytes = Buffer.byteLength(JSON.stringify(event));
    }
    return { slices, event, records: slices.reduce((n, s) => n + s.records.length, 0), payloadBytes };
  }

  /** The function resolved: every slice's partition moves past its last record. */
  commit(batch: Batch): void {
    for (const slice of batch.slices) {
      const index = this.#logs.findIndex((log) => log.topic === slice.topic && log.partition === slice.partition);
      const last = slice.records.at(-1)!.offset;
      this.#next[index] = this.#logs[index]!.records.findIndex((record) => record.offset > last);
      if (this.#next[index] === -1) this.#next[index] = this.#logs[index]!.records.length;
    }
  }

  get drained(): boolean {
    return this.#logs.every((log, index) => this.#next[index]! >= log.records.length);
  }
}
