/**
 * A simulated Kafka log and event source mapping for protocol tests: partitions with gapped
 * offsets, values of every kind, Lambda events in AWS's shape, and a consumer group that
 * commits only after the function succeeds and redelivers failed batches with other boundaries.
 */

import { recordId, rng } from './stream.ts';

/** The seeded PRNG and record identity are local mode's, so that both draw the same streams. */
export { recordId, rng };

export function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** A record as the broker holds it. */
export interface LogRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Buffer | null;
  /** Null: tombstone. */
  readonly value: Buffer | null;
  readonly kind: 'json' | 'text' | 'binary' | 'tombstone' | 'poison';
  readonly headers: ReadonlyArray<Record<string, number[]>>;
}

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

/** Generates one partition's log. JSON values carry `{"id": recordId, ...}`. */
export function generateLog(options: LogOptions): LogRecord[] {
  const { topic, partition, count, random } = options;
  const records: LogRecord[] = [];
  let offset = options.startOffset ?? 0;
  for (let index = 0; index < count; index++) {
    if (index > 0) offset += random() < (options.gapRate ?? 0.1) ? randomInt(random, 2, 4) : 1;
    const id = recordId(topic, partition, offset);
    const roll = random();
    let kind: LogRecord['kind'];
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

/** One partition's slice in a batch. */
export interface BatchSlice {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly LogRecord[];
}

/** The Lambda event for a batch, exactly as the event source mapping shapes it. */
export function toKafkaEvent(slices: readonly BatchSlice[], eventSource: 'aws:kafka' | 'SelfManagedKafka' = 'aws:kafka') {
  const records: Record<string, unknown[]> = {};
  for (const slice of slices) {
    if (slice.records.length === 0) continue;
    records[`${slice.topic}-${slice.partition}`] = slice.records.map((record) => ({
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      timestamp: record.timestamp,
      timestampType: 'CREATE_TIME',
      ...(record.key ? { key: record.key.toString('base64') } : {}),
      ...(record.value ? { value: record.value.toString('base64') } : {}),
      headers: record.headers,
    }));
  }
  return {
    eventSource,
    ...(eventSource === 'aws:kafka'
      ? { eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/chaos/00000000-0000-0000-0000-000000000000-1' }
      : {}),
    bootstrapServers: 'b-1.local:9098',
    records,
  };
}

/**
 * The event source mapping's consumer group: per partition the next offset to fetch. It
 * commits only after the function succeeds; a failed batch comes again from the same position,
 * with boundaries drawn anew.
 */
export class ConsumerGroupSim {
  readonly #logs: ReadonlyArray<readonly LogRecord[]>;
  readonly #positions: number[];
  readonly #random: () => number;

  constructor(logs: ReadonlyArray<readonly LogRecord[]>, random: () => number) {
    this.#logs = logs;
    this.#random = random;
    this.#positions = logs.map((log) => log[0]?.offset ?? 0);
  }

  /** A batch of up to `maxPerPartition` records from each partition that has some left. */
  poll(maxPerPartition: number): BatchSlice[] {
    return this.#logs
      .map((log, index) => {
        const from = log.findIndex((record) => record.offset >= this.#positions[index]!);
        const records = from < 0 ? [] : log.slice(from, from + randomInt(this.#random, 1, maxPerPartition));
        return { topic: log[0]!.topic, partition: log[0]!.partition, records };
      })
      .filter((slice) => slice.records.length > 0);
  }

  /** The function succeeded: commit each slice's end. */
  commit(slices: readonly BatchSlice[]): void {
    for (const slice of slices) this.commitAt(slice.topic, slice.partition, slice.records.at(-1)!.offset + 1);
  }

  /** Sets a partition's next offset (a commit, a partial batch response or a rewind). */
  commitAt(topic: string, partition: number, next: number): void {
    const index = this.#logs.findIndex((log) => log[0]!.topic === topic && log[0]!.partition === partition);
    this.#positions[index] = next;
  }

  /** Moves a partition back by up to `records` records, as when a consumer's commit was lost. */
  rewind(records: number): void {
    const index = randomInt(this.#random, 0, this.#logs.length - 1);
    const log = this.#logs[index]!;
    const at = log.findIndex((record) => record.offset >= this.#positions[index]!);
    const current = at < 0 ? log.length : at;
    this.#positions[index] = log[Math.max(0, current - randomInt(this.#random, 1, records))]!.offset;
  }

  /**
   * The mapping gives up on the next `records` records of a partition (retries or record age ran
   * out) and moves on past them: they never reach the function. Returns them.
   */
  skip(partitionIndex: number, records: number): LogRecord[] {
    const log = this.#logs[partitionIndex]!;
    const at = log.findIndex((record) => record.offset >= this.#positions[partitionIndex]!);
    if (at < 0) return [];
    const skipped = log.slice(at, at + records);
    this.#positions[partitionIndex] = skipped.at(-1)!.offset + 1;
    return skipped;
  }

  /** Every partition consumed to its end. */
  get drained(): boolean {
    return this.#logs.every((log, index) => this.#positions[index]! > log.at(-1)!.offset);
  }
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
