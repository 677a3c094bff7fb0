/** What the standalone worker keeps per assigned partition, and what it counts. */
import type { KafkaRecord } from '../core/model.ts';

/** Where a partition's position came from. */
export type PositionSource = 'ledger' | 'group' | 'earliest' | 'latest' | 'retry' | 'kept';

export interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  /** Kafka's id of the topic when the partition was positioned (undefined: the metadata lacked it). */
  readonly topicId: string | undefined;
  /** The next offset to fetch. */
  position: number;
  /** Records fetched and not yet delivered, contiguous from `bufferStart`. */
  buffer: KafkaRecord[];
  /** How many records at the head of `buffer` the flush in flight is delivering (0: none). */
  inFlight: number;
  /** The partition's flush in flight, resolving to 1 if it failed, else 0 (at most one per partition). */
  flushing: Promise<number> | undefined;
  /** `offset.flush.interval.ms` elapsed while the partition was flushing: flush what it holds next. */
  intervalDue: boolean;
  /**
   * The offset from which the log was read without a break up to the position: where the
   * partition was positioned, or after the last record delivered. The buffer's records are all of
   * the log from here; offsets between here and the first record are the log's own gaps
   * (compaction, markers), which the core must not count as skipped (`PartitionBatch.coversFrom`).
   */
  bufferStart: number;
  /** High-water mark from the last fetch, for lag. */
  highWatermark: number | undefined;
  /** Do not fetch before (after a failed delivery). */
  retryAt: number;
  failures: number;
}

export interface WorkerStats {
  readonly startedAt: number;
  recordsFetched: number;
  recordsDelivered: number;
  bytesDelivered: number;
  objectsWritten: number;
  duplicatesSkipped: number;
  /** Offsets between the committed offset + 1 and where a partition resumed (retention, a moved group). */
  skippedOffsets: number;
  flushes: number;
  failedPartitions: number;
  /**
   * Partitions refused because their topic was deleted and created again (`TopicRecreatedError`):
   * each refusal counts, until the operator resets the partition and restarts the worker.
   */
  refusedPartitions: number;
  rebalances: number;
}

export interface WorkerStatus {
  readonly partitions: number;
  /** Assigned partitions refused now (their topic was deleted and created again): nothing of them is delivered. */
  readonly refused: number;
  readonly buffered: number;
  /** High-water mark minus position, summed (records not yet fetched); undefined before the first fetch. */
  readonly lag: number | undefined;
  readonly stats: Readonly<WorkerStats>;
}

/** The key of a topic-partition in the worker's maps. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** Partition numbers by topic, as Kafka requests take them. */
export function groupByTopic(list: ReadonlyArray<{ topic: string; partition: number }>): Map<string, number[]> {
  const grouped = new Map<string, number[]>();
  for (const { topic, partition } of list) grouped.set(topic, [...(grouped.get(topic) ?? []), partition]);
  return grouped;
}
