/**
 * The ledger side of the protocol (docs/protocol.md) for one topic-partition of a batch: what the
 * writer last read of the ledger entry (steps R and D), and the conditional writes that move it
 * (N's declaration, C and C′).
 *
 * Invariants enforced here: the entry moves only by writes conditional on the position last read;
 * it never moves backwards (a writer that finds it at or beyond its own offset leaves it there); a
 * new generation (a reset) or a deleted entry stops the writer (`LedgerResetError`); an entry
 * committed for another topic id than the batch's is refused (`TopicRecreatedError`). The caller
 * holds the other half: `commit` only once every offset up to the committed one is durable.
 */
import { LedgerConflictError, LedgerResetError, TopicRecreatedError } from '../core/errors.ts';
import type { KafkaRecord, PartitionBatch } from '../core/model.ts';
import {
  type Clock,
  type LedgerEntry,
  type LedgerPosition,
  MAX_SKIPPED_RANGES,
  type OffsetLedger,
  SkipKind,
  type SkippedRange,
} from '../core/ports.ts';

/** One writer's view of one ledger entry, and the writes that move it. */
export class LedgerCursor {
  readonly #batch: PartitionBatch;
  readonly #ledger: OffsetLedger;
  readonly #clock: Clock;
  #generation = 0;
  #committed = -1;
  #position: LedgerPosition | undefined;
  /** The skipped ranges and the naming settings on the entry as last read. */
  #skippedRanges: readonly SkippedRange[] = [];
  #recordedNaming: string | undefined;
  /** Found at the ledger read, recorded with the first commit from that position. */
  #skip: SkippedRange | undefined;
  #skipRecorded: SkippedRange | undefined;

  constructor(batch: PartitionBatch, ledger: OffsetLedger, clock: Clock) {
    this.#batch = batch;
    this.#ledger = ledger;
    this.#clock = clock;
  }

  /** The generation the writer writes in (0 before the partition has an entry). */
  get generation(): number {
    return this.#generation;
  }

  /** The committed offset as last read or written (-1: none yet). */
  get committed(): number {
    return this.#committed;
  }

  /** The naming settings (fingerprint) the entry records; undefined: none. */
  get recordedNaming(): string | undefined {
    return this.#recordedNaming;
  }

  /** The skipped range this writer recorded on the ledger with one of its commits, if any. */
  get skipRecorded(): SkippedRange | undefined {
    return this.#skipRecorded;
  }

  /**
   * Steps R and D: reads the entry (strongly consistent) and takes it, and notes the range the
   * batch skipped, if any, to record with the first commit from this position.
   */
  async read(): Promise<void> {
    const { topic, partition, records } = this.#batch;
    this.#take(await this.#ledger.read(topic, partition));
    this.#skip = this.#skippedBefore(records[0]);
  }

  /**
   * Advances the ledger to `offset`, conditional on the position this writer last saw. Invariant:
   * called only once every offset up to `offset` is durable in S3 (or the dead-letter prefix).
   * If another writer got there first, its position stands when it is at or beyond ours
   * (the ledger never moves back); a new generation (a reset) stops this writer.
   */
  async commit(offset: number, key: string, recordCount: number): Promise<void> {
    const { topic, partition } = this.#batch;
    for (;;) {
      // The skipped range goes with the first commit from the position it was measured at; a
      // writer that finds the ledger moved on leaves it to whoever moved it.
      const skip = this.#skip !== undefined && this.#skip.fromOffset === this.#committed + 1 ? this.#skip : undefined;
      const skippedRanges = skip ? [...this.#skippedRanges.slice(-(MAX_SKIPPED_RANGES - 1)), skip] : undefined;
      try {
        await this.#ledger.advance(this.#position, {
          topic,
          partition,
          generation: this.#generation,
          committedOffset: offset,
          lastObjectKey: key,
          lastRecordCount: recordCount,
          updatedAt: new Date(this.#clock.now()).toISOString(),
          ...(skippedRanges ? { skippedRanges } : {}),
          ...(this.#batch.topicId !== undefined ? { topicId: this.#batch.topicId } : {}),
        });
        this.#committed = offset;
        this.#position = { generation: this.#generation, committedOffset: offset };
        if (skippedRanges) {
          this.#skippedRanges = skippedRanges;
          this.#skipRecorded = skip;
        }
        this.#skip = undefined;
        return;
      } catch (error) {
        if (!(error instanceof LedgerConflictError)) throw error;
        const current = await this.#ledger.read(topic, partition);
        this.#checkGeneration(current, error);
        this.#position = { generation: current!.generation, committedOffset: current!.committedOffset };
        this.#skippedRanges = current!.skippedRanges ?? [];
        this.#skip = undefined;
        if (current!.committedOffset >= offset) {
          this.#committed = current!.committedOffset;
          return;
        }
      }
    }
  }

  /**
   * Records the writer's naming settings (`fingerprint`) on the ledger before it creates objects
   * under them. When someone else moved the entry meanwhile (a commit, another declaration, a
   * reset), reads it again instead: the caller's loop decides from there.
   */
  async declareNaming(fingerprint: string): Promise<void> {
    const { topic, partition } = this.#batch;
    try {
      await this.#ledger.declareNaming(this.#position, {
        topic,
        partition,
        naming: fingerprint,
        previous: this.#recordedNaming,
        updatedAt: new Date(this.#clock.now()).toISOString(),
      });
      if (this.#position === undefined) this.#position = { generation: 0, committedOffset: -1 };
      this.#recordedNaming = fingerprint;
    } catch (error) {
      if (!(error instanceof LedgerConflictError)) throw error;
      const current = await this.#ledger.read(topic, partition);
      this.#checkGeneration(current, error);
      this.#take(current);
      if (this.#skip && this.#skip.fromOffset !== this.#committed + 1) this.#skip = undefined;
    }
  }

  /** Stops this writer when the entry is gone or in another generation than the one it writes. */
  #checkGeneration(current: LedgerEntry | undefined, cause: Error): void {
    const { topic, partition } = this.#batch;
    if (!current || current.generation !== this.#generation) {
      throw new LedgerResetError(
        `Ledger of ${topic}-${partition} was reset during delivery: generation ${this.#generation} → ` +
          `${current ? current.generation : 'deleted'}`,
        { cause },
      );
    }
  }

  /**
   * Takes what the ledger read says: position, skipped ranges, recorded naming. Refuses an entry
   * committed for another topic id than the batch's (the topic was deleted and created again):
   * its offsets are not this topic's.
   */
  #take(entry: LedgerEntry | undefined): void {
    if (!entry) return;
    const { topic, partition, topicId } = this.#batch;
    if (topicId !== undefined && entry.topicId !== undefined && entry.topicId !== topicId) {
      throw new TopicRecreatedError({
        topic,
        partition,
        ledgerTopicId: entry.topicId,
        topicId,
        generation: entry.generation,
        committedOffset: entry.committedOffset,
      });
    }
    this.#generation = entry.generation;
    this.#committed = entry.committedOffset;
    this.#position = { generation: entry.generation, committedOffset: entry.committedOffset };
    this.#skippedRanges = entry.skippedRanges ?? [];
    this.#recordedNaming = entry.naming;
  }

  /**
   * The offsets between the committed offset + 1 and the batch's first record, when the batch
   * starts above it. The event source mapping only starts a batch there when it gave up on the
   * records before it (retries, record age) or retention deleted them; transaction markers make
   * gaps of one or two. Gaps between records inside a batch are the log's own (compaction,
   * markers): the mapping read them in one go, so they are not skips. Nor is a gap between
   * `coversFrom` (where a source that says so began reading) and the first record.
   */
  #skippedBefore(first: KafkaRecord | undefined): SkippedRange | undefined {
    if (first === undefined) return undefined;
    const readFrom = Math.min(first.offset, this.#batch.coversFrom ?? first.offset);
    if (readFrom <= this.#committed + 1) return undefined;
    return {
      kind: this.#committed === -1 ? SkipKind.start : SkipKind.gap,
      generation: this.#generation,
      fromOffset: this.#committed + 1,
      toOffset: readFrom - 1,
      detectedAt: new Date(this.#clock.now()).toISOString(),
    };
  }
}
