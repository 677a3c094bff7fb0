/** One Kafka header; the value is the raw bytes the producer sent. */
export interface KafkaHeader {
  readonly key: string;
  readonly value: Uint8Array;
}

/** One Kafka record, decoded from the Lambda event (keys and values are raw bytes). */
export interface KafkaRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** Epoch milliseconds, or null when the event did not carry one. */
  readonly timestamp: number | null;
  /** `CREATE_TIME` or `LOG_APPEND_TIME`, or null when absent. */
  readonly timestampType: string | null;
  /** Null when the record has no key. */
  readonly key: Uint8Array | null;
  /** Null for a tombstone (the event carried no value). */
  readonly value: Uint8Array | null;
  readonly headers: readonly KafkaHeader[];
}

/** The records of one topic-partition in one batch, in strictly ascending offset order. */
export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly KafkaRecord[];
  /**
   * Kafka's id of the topic the records were read from, when the source knows it (the standalone
   * worker; a Lambda event carries none). The ledger records it with each commit, and a batch from
   * another id than the ledger's is refused (`TopicRecreatedError`).
   */
  readonly topicId?: string;
  /**
   * The offset from which the source read the log without a break to the last record, when it
   * knows it (the standalone worker fetches from the ledger's committed offset + 1). Offsets from
   * it to the first record that hold no record are the log's own gaps (compaction, transaction
   * markers, aborted records), not skips; only offsets below it can be. Absent: the batch's first
   * record's offset (a Lambda event says nothing of what came before its first record).
   */
  readonly coversFrom?: number;
}

/** The two event sources of Lambda's Kafka event source mappings. */
export const EventSource = {
  msk: 'aws:kafka',
  selfManaged: 'SelfManagedKafka',
} as const;
export type EventSource = (typeof EventSource)[keyof typeof EventSource];

/** A parsed, validated Lambda Kafka event. */
export interface KafkaBatch {
  readonly eventSource: EventSource;
  readonly partitions: readonly PartitionBatch[];
}

/** The identifier Lambda uses for a partition in `batchItemFailures` and in the event's `records` map. */
export function partitionId(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}
