import type { SkippedRange } from '../core/ports.ts';

/** What happened to one topic-partition of a batch. */
export interface PartitionReport {
  readonly topic: string;
  readonly partition: number;
  readonly status: 'delivered' | 'failed';
  /** Records of this partition in the batch. */
  readonly received: number;
  /** Records at or below the committed offset: delivered before, dropped. */
  readonly skippedDuplicates: number;
  /** Records in objects this invocation created. */
  readonly recordsWritten: number;
  /** Stored (compressed) bytes of the objects this invocation created. */
  readonly bytesWritten: number;
  /** Keys of the objects this invocation created, in offset order. */
  readonly objectsWritten: readonly string[];
  /** Keys found already created (412) and adopted: left by a retry, a dead or a concurrent writer. */
  readonly objectsAdopted: readonly string[];
  /** Records this invocation sent to the dead-letter prefix. */
  readonly deadLetters: number;
  /**
   * The range of offsets between the committed offset + 1 and this batch's first record, when the
   * batch started above it and this invocation recorded it on the ledger.
   */
  readonly skippedRange?: SkippedRange;
  /** Ledger generation the partition was delivered in. */
  readonly generation: number;
  /** Committed offset after this invocation (-1: none yet). */
  readonly committedOffset: number;
  /** Timestamp of the oldest record this invocation wrote, for end-to-end lag. */
  readonly oldestTimestamp: number | undefined;
  /** When failed: the first offset of the batch that is not delivered. */
  readonly firstUndeliveredOffset?: number;
  readonly error?: Error;
}
