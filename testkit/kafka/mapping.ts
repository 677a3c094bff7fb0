/**
 * A simulated Kafka event source mapping (ESM) for local mode, in virtual time, with the
 * settings the CDK configuration maps from Kafka Connect's names:
 *
 * - `flush.size` → `BatchSize`: the most records in one invocation, all partitions together.
 * - `offset.flush.interval.ms` → `MaximumBatchingWindowInSeconds`: a batch opens when a record
 *   is available to the poller and closes when it holds `BatchSize` records, when the next
 *   record would take the event over Lambda's 6 MB payload limit, or when the window has
 *   elapsed since it opened, whichever comes first. Records arrive at their `producedAt`.
 * - `consumer.auto.offset.reset` → `StartingPosition`, used when the consumer group is created
 *   (at `startTime`): `earliest` (TRIM_HORIZON), `latest` (only records produced at or after
 *   `startTime`), or a timestamp (AT_TIMESTAMP: per partition, the first record whose timestamp
 *   is at or after it).
 *
 * The consumer group commits a batch only when the function succeeded (`complete` with
 * `ok: true`); a failed batch leaves the positions where they were, so the next `poll` starts
 * at the same offsets, with boundaries drawn anew (more records may have arrived meanwhile, or
 * the caller asks for fewer). With a partial batch response (`batchItemFailures`), each failed
 * partition resumes at the offset reported and the others commit; an identifier that names no
 * record of the batch fails the whole batch, as Lambda does. `complete` never moves a position
 * backwards. `poll` never changes positions, so two polls before a `complete` are two
 * overlapping batches of the same partitions (two pollers around a rebalance).
 *
 * The chaos suite drives the same consumer group adversarially (`consumerGroup`, no virtual
 * time): batches with random boundaries per partition (`pollSlices`), commits that arrive in any
 * order and so may move a position backwards (`commitAt`), rewinds as when a commit was lost,
 * and skips as when the mapping gives up on records.
 */
import { MAX_PAYLOAD_BYTES, toEventRecord, toKafkaEvent } from './events.ts';
import { type BatchSlice, type LogRecord, type PartitionLog, randomInt } from './records.ts';

export type StartPosition =
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'timestamp'; readonly ms: number };

export interface MappingOptions {
  /** ESM BatchSize (`flush.size`): the most records per invocation, across partitions. */
  readonly batchSize: number;
  /** ESM MaximumBatchingWindow (`offset.flush.interval.ms`), virtual milliseconds. */
  readonly windowMs: number;
  /** `consumer.auto.offset.reset`. */
  readonly start: StartPosition;
  /** Virtual time at which the consumer group is created. */
  readonly startTime: number;
  /** Default: Lambda's 6 MB. */
  readonly maxPayloadBytes?: number;
  /** The draws of `pollSlices` and `rewind` (required by them only). */
  readonly random?: () => number;
}

/** Why a batch closed. */
export type CloseReason = 'full' | 'payload' | 'window';

export interface SimBatch {
  /** 1, 2, ... in poll order. */
  readonly id: number;
  readonly slices: readonly BatchSlice[];
  readonly event: Record<string, unknown>;
  readonly records: number;
  readonly payloadBytes: number;
  /** Virtual times. */
  readonly openedAt: number;
  readonly closedAt: number;
  readonly reason: CloseReason;
}

export type Outcome = { readonly ok: true; readonly response: unknown } | { readonly ok: false; readonly error?: unknown };

export interface Completion {
  /** Records the consumer group moved past. */
  readonly committed: number;
  /** `topic-partition` → offset it resumes at, for partitions the function reported failed. */
  readonly failedPartitions: ReadonlyMap<string, number>;
  /** The whole batch failed (an error, or an invalid partial batch response): nothing committed. */
  readonly failed: boolean;
}

const partitionId = (topic: string, partition: number): string => `${topic}-${partition}`;

export class EventSourceMappingSim {
  readonly #logs: readonly PartitionLog[];
  readonly #options: MappingOptions;
  /** Per log: index of the next record to deliver (the consumer group's committed position). */
  readonly #next: number[];
  readonly #startIndex: number[];
  readonly #index = new Map<string, number>();
  #now: number;
  #polls = 0;

  constructor(logs: readonly PartitionLog[], options: MappingOptions) {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new RangeError('batchSize: expected a positive integer');
    if (!(options.windowMs >= 0)) throw new RangeError('windowMs: expected a non-negative number');
    this.#logs = logs;
    this.#options = options;
    this.#now = options.startTime;
    this.#startIndex = logs.map((log) => startIndex(log.records, options));
    this.#next = [...this.#startIndex];
    for (const [index, log] of logs.entries()) this.#index.set(partitionId(log.topic, log.partition), index);
  }

  /**
   * The chaos suite's consumer group over `logs` (each one partition's records, from its first),
   * drawing batch boundaries and rewinds from `random`.
   */
  static consumerGroup(logs: ReadonlyArray<readonly LogRecord[]>, random: () => number): EventSourceMappingSim {
    const partitions = logs.map((records) => ({ topic: records[0]!.topic, partition: records[0]!.partition, records }));
    return new EventSourceMappingSim(partitions, { batchSize: 10_000, windowMs: 0, start: { kind: 'earliest' }, startTime: 0, random });
  }

  /** The virtual clock (epoch ms). */
  get now(): number {
    return this.#now;
  }

  /** The records the mapping will deliver: each partition's log from its start position. */
  expectedRecords(): LogRecord[] {
    return this.#logs.flatMap((log, index) => log.records.slice(this.#startIndex[index]));
  }

  /** `topic-partition` → the next offset the consumer group will deliver (undefined: all of the log delivered). */
  positions(): Map<string, number | undefined> {
    return new Map(this.#logs.map((log, index) => [partitionId(log.topic, log.partition), log.records[this.#next[index]!]?.offset]));
  }

  get drained(): boolean {
    return this.#logs.every((log, index) => this.#next[index]! >= log.records.length);
  }

  /**
   * The next batch from the committed positions, or undefined when every log is delivered.
   * Advances the virtual clock to the batch's close. `maxRecords` caps this batch below
   * BatchSize (a redelivery with other boundaries).
   */
  poll(options: { readonly maxRecords?: number } = {}): SimBatch | undefined {
    const limit = Math.max(1, Math.min(this.#options.batchSize, options.maxRecords ?? Infinity));
    const cursor = [...this.#next];
    const arrival = (index: number): number => {
      const record = this.#logs[index]!.records[cursor[index]!];
      return record === undefined ? Infinity : (record.producedAt ?? record.timestamp);
    };
    let first = Infinity;
    for (let i = 0; i < cursor.length; i++) first = Math.min(first, arrival(i));
    if (first === Infinity) return undefined;
    // The poller idles until a record is there; the window opens then.
    const openedAt = Math.max(this.#now, first);
    const deadline = openedAt + this.#options.windowMs;
    const maxPayload = this.#options.maxPayloadBytes ?? MAX_PAYLOAD_BYTES;
    const taken = this.#logs.map(() => 0);
    let count = 0;
    let payload = 200; // the event's envelope
    let lastArrival = openedAt;
    let reason: CloseReason = 'window';
    // Gather in arrival order until full, over the payload limit, or past the window.
    while (count < limit) {
      let pick = -1;
      let at = Infinity;
      for (let i = 0; i < cursor.length; i++) {
        const a = arrival(i);
        // Records there at the same time are shared out round-robin, as a consumer's fetch
        // returns several partitions' records in one poll.
        if (a < at || (a === at && a !== Infinity && taken[i]! < taken[pick]!)) {
          at = a;
          pick = i;
        }
      }
      if (pick < 0 || at > deadline) break;
      const record = this.#logs[pick]!.records[cursor[pick]!]!;
      const size = Buffer.byteLength(JSON.stringify(toEventRecord(record))) + 1 + (taken[pick] === 0 ? record.topic.length + 16 : 0);
      if (payload + size > maxPayload && count > 0) {
        reason = 'payload';
        break;
      }
      payload += size;
      cursor[pick]!++;
      taken[pick]!++;
      count++;
      lastArrival = Math.max(openedAt, at);
    }
    if (count >= limit) reason = 'full';
    const closedAt = reason === 'window' ? deadline : lastArrival;
    this.#now = Math.max(this.#now, closedAt);
    const slices: BatchSlice[] = [];
    this.#logs.forEach((log, index) => {
      if (taken[index]! > 0) {
        const from = this.#next[index]!;
        slices.push({ topic: log.topic, partition: log.partition, records: log.records.slice(from, from + taken[index]!) });
      }
    });
    const event = toKafkaEvent(slices);
    return {
      id: ++this.#polls,
      slices,
      event,
      records: count,
      payloadBytes: Buffer.byteLength(JSON.stringify(event)),
      openedAt,
      closedAt,
      reason,
    };
  }

  /**
   * The function's outcome for a batch. Only a success moves the consumer group: every slice's
   * partition moves past its last record, except the partitions a partial batch response
   * names, which resume at the reported offset.
   */
  complete(batch: SimBatch, outcome: Outcome): Completion {
    if (!outcome.ok) return { committed: 0, failedPartitions: new Map(), failed: true };
    const failures = batchItemFailures(outcome.response);
    const resumeAt = new Map<string, number>();
    for (const failure of failures ?? []) {
      const slice = batch.slices.find((s) => partitionId(s.topic, s.partition) === failure.partition);
      if (slice === undefined || !slice.records.some((r) => r.offset === failure.offset)) {
        // Lambda treats an identifier it cannot match as a failure of the whole batch.
        return { committed: 0, failedPartitions: new Map(), failed: true };
      }
      resumeAt.set(failure.partition, Math.min(resumeAt.get(failure.partition) ?? Infinity, failure.offset));
    }
    let committed = 0;
    for (const slice of batch.slices) {
      const id = partitionId(slice.topic, slice.partition);
      const index = this.#index.get(id)!;
      const records = this.#logs[index]!.records;
      const from = records.indexOf(slice.records[0]!);
      const resume = resumeAt.get(id);
      const to = resume === undefined ? from + slice.records.length : records.findIndex((r) => r.offset >= resume);
      if (to > this.#next[index]!) {
        committed += to - this.#next[index]!;
        this.#next[index] = to;
      }
    }
    return { committed, failedPartitions: resumeAt, failed: false };
  }

  // -------------------------------------------------------------------------------------------
  // The chaos suite's adversarial driving (see the module's comment)

  #random(): () => number {
    if (this.#options.random === undefined) throw new Error('EventSourceMappingSim: pollSlices and rewind need the random option');
    return this.#options.random;
  }

  /** 1 to `maxPerPartition` records (drawn per partition) from each partition with records left, from its position. Moves nothing. */
  pollSlices(maxPerPartition: number): BatchSlice[] {
    const random = this.#random();
    const slices: BatchSlice[] = [];
    this.#logs.forEach((log, index) => {
      const from = this.#next[index]!;
      if (from >= log.records.length) return;
      slices.push({
        topic: log.topic,
        partition: log.partition,
        records: log.records.slice(from, from + randomInt(random, 1, maxPerPartition)),
      });
    });
    return slices;
  }

  /** The function succeeded: commit each slice's end. */
  commitSlices(slices: readonly BatchSlice[]): void {
    for (const slice of slices) this.commitAt(slice.topic, slice.partition, slice.records.at(-1)!.offset + 1);
  }

  /**
   * Sets a partition's position to the first record at or after offset `next` (a commit, a partial
   * batch response or a rewind), backwards too. A partition the mapping does not read is ignored.
   */
  commitAt(topic: string, partition: number, next: number): void {
    const index = this.#index.get(partitionId(topic, partition));
    if (index === undefined) return;
    const at = this.#logs[index]!.records.findIndex((record) => record.offset >= next);
    this.#next[index] = at < 0 ? this.#logs[index]!.records.length : at;
  }

  /** Moves a partition (drawn) back by 1 to `records` records (drawn), as when a consumer's commit was lost. */
  rewind(records: number): void {
    const random = this.#random();
    const index = randomInt(random, 0, this.#logs.length - 1);
    this.#next[index] = Math.max(0, this.#next[index]! - randomInt(random, 1, records));
  }

  /**
   * The mapping gives up on the next `records` records of a partition (retries or record age ran
   * out) and moves on past them: they never reach the function. Returns them.
   */
  skip(partitionIndex: number, records: number): LogRecord[] {
    const log = this.#logs[partitionIndex]!;
    const at = this.#next[partitionIndex]!;
    const skipped = log.records.slice(at, at + records);
    this.#next[partitionIndex] = at + skipped.length;
    return skipped;
  }
}

function startIndex(records: readonly LogRecord[], options: MappingOptions): number {
  const start = options.start;
  let index: number;
  switch (start.kind) {
    case 'earliest':
      return 0;
    case 'latest':
      index = records.findIndex((r) => (r.producedAt ?? r.timestamp) >= options.startTime);
      break;
    case 'timestamp':
      index = records.findIndex((r) => r.timestamp >= start.ms);
      break;
  }
  return index < 0 ? records.length : index;
}

/** The partial batch response's failures, or undefined when the response is not one (plain success). */
export function batchItemFailures(response: unknown): Array<{ partition: string; offset: number }> | undefined {
  const list = (response as { batchItemFailures?: unknown } | null | undefined)?.batchItemFailures;
  if (!Array.isArray(list)) return undefined;
  return list.map((item: unknown) => {
    const id = (item as { itemIdentifier?: { partition?: unknown; offset?: unknown } } | null)?.itemIdentifier;
    return { partition: String(id?.partition), offset: Number(id?.offset) };
  });
}
