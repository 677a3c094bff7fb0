/**
 * Delivering one flush of the standalone worker: the head of each selected partition's buffer
 * through the core (`deliverBatch`), then what the report says for each partition: move the
 * buffer on and commit the group's offset (delivered), refuse it (its topic was created again), or
 * position it from the ledger again (failed).
 */
import type { Consumer } from '@platformatic/kafka';
import { PoisonRecordError, TopicRecreatedError } from '../core/errors.ts';
import { EventSource, type PartitionBatch } from '../core/model.ts';
import { type Clock, type ObjectStore, type OffsetLedger, SkipKind, skippedCount } from '../core/ports.ts';
import { type BatchReport, deliverBatch } from '../delivery/deliver-batch.ts';
import type { DeliveryOptions } from '../delivery/options.ts';
import { WorkerFatalError } from './kafka-errors.ts';
import { errorFields, type WorkerLogger } from './log.ts';
import type { PartitionState, WorkerStats } from './partition-state.ts';

const MAX_RETRY_DELAY_MS = 30_000;

/**
 * The `message` of the error line logged when a partition is refused because its topic was deleted
 * and created again (`TopicRecreatedError`, `code` `TOPIC_RECREATED`): fixed, for log metric
 * filters and alarms.
 */
export const TOPIC_RECREATED_MESSAGE = 'Partition refused: its topic was deleted and created again';

/** An offset commit of the consumer group, as `Consumer.commit` takes it. */
export type GroupOffset = Parameters<Consumer['commit']>[0]['offsets'][number];

/** What a flush needs of the worker. */
export interface DeliveryHost {
  readonly flushSize: number;
  readonly delivery: DeliveryOptions;
  readonly ledger: OffsetLedger;
  readonly store: ObjectStore;
  readonly clock: Clock;
  readonly log: WorkerLogger;
  readonly stats: WorkerStats;
  /** An object key as logs show it (Layout.redactKey). */
  redactKey(key: string): string;
  /** True while the partition is still this worker's (not revoked, no rejoin since). */
  owns(state: PartitionState): boolean;
  /** Commits the group's offsets after a flush (informational: lag tools); never throws. */
  commitGroupOffsets(offsets: GroupOffset[]): Promise<void>;
  /** A failure retrying cannot help: the worker stops. */
  fail(error: WorkerFatalError): void;
}

/** Delivers the worker's flushes and acts on their reports. */
export class PartitionDelivery {
  readonly #host: DeliveryHost;

  constructor(host: DeliveryHost) {
    this.#host = host;
  }

  /**
   * Delivers up to `flush.size` records of each selected partition, then commits the group's
   * offsets. Returns how many partitions failed. The records stay at the head of their buffers
   * (`inFlight`) until delivered, while fetches append behind them; a partition's next batch
   * starts after the last record delivered (its committed offset + 1), or, after a failure, from
   * the ledger again.
   */
  async deliver(reason: string, selected: readonly PartitionState[]): Promise<number> {
    const flushSize = this.#host.flushSize;
    const partitions: PartitionBatch[] = selected.map((s) => ({
      topic: s.topic,
      partition: s.partition,
      records: s.buffer.slice(0, flushSize),
      coversFrom: s.bufferStart,
      ...(s.topicId !== undefined ? { topicId: s.topicId } : {}),
    }));
    selected.forEach((s, index) => {
      s.inFlight = partitions[index]!.records.length;
    });
    try {
      return await this.#deliverSelected(reason, selected, partitions);
    } finally {
      for (const s of selected) s.inFlight = 0;
    }
  }

  async #deliverSelected(reason: string, selected: readonly PartitionState[], partitions: readonly PartitionBatch[]): Promise<number> {
    const started = this.#host.clock.now();
    let report: BatchReport;
    try {
      report = await deliverBatch({ eventSource: EventSource.selfManaged, partitions }, this.#host.delivery, {
        ledger: this.#host.ledger,
        store: this.#host.store,
        clock: this.#host.clock,
      });
    } catch (error) {
      // The core reports partition failures; a throw here is unexpected: treat all as failed.
      this.#host.log.error('Delivery failed', { reason, ...errorFields(error) });
      for (const s of selected) await this.#reposition(s, undefined);
      return selected.length;
    }
    this.#host.stats.flushes++;
    let records = 0;
    let failed = 0;
    const commits: Array<{ topic: string; partition: number; offset: bigint; leaderEpoch: number }> = [];
    for (const [index, partitionReport] of report.partitions.entries()) {
      const state = selected[index]!;
      const sent = partitions[index]!.records.length;
      if (partitionReport.status === 'delivered') {
        records += partitionReport.recordsWritten;
        this.#host.stats.recordsDelivered += partitionReport.recordsWritten;
        this.#host.stats.bytesDelivered += partitionReport.bytesWritten;
        this.#host.stats.objectsWritten += partitionReport.objectsWritten.length;
        this.#host.stats.duplicatesSkipped += partitionReport.skippedDuplicates;
        const skipped = partitionReport.skippedRange;
        if (skipped !== undefined && skipped.kind === SkipKind.gap) {
          // Retention deleted records before this worker read them (or the group was moved by hand).
          this.#host.stats.skippedOffsets += skippedCount(skipped);
          this.#host.log.warn('Offsets skipped: the partition resumed above the committed offset + 1', {
            partition: `${state.topic}-${state.partition}`,
            topic: state.topic,
            generation: skipped.generation,
            fromOffset: skipped.fromOffset,
            toOffset: skipped.toOffset,
            skippedOffsets: skippedCount(skipped),
          });
        }
        // Read without a break from after the last record sent (not from the next record: the
        // offsets between are the log's gaps, and not from the position: the ledger is not there).
        state.bufferStart = partitions[index]!.records[sent - 1]!.offset + 1;
        state.buffer = state.buffer.slice(sent);
        state.failures = 0;
        if (this.#host.owns(state)) {
          commits.push({
            topic: state.topic,
            partition: state.partition,
            offset: BigInt(partitionReport.committedOffset + 1),
            leaderEpoch: -1,
          });
        }
        this.#host.log.debug('Partition delivered', {
          partition: `${state.topic}-${state.partition}`,
          generation: partitionReport.generation,
          received: partitionReport.received,
          committedOffset: partitionReport.committedOffset,
          skippedDuplicates: partitionReport.skippedDuplicates,
          recordsWritten: partitionReport.recordsWritten,
          // Field-partitioned directories shown as `country=*`: never record data in logs.
          objectsWritten: partitionReport.objectsWritten.map(this.#host.redactKey),
          objectsAdopted: partitionReport.objectsAdopted.map(this.#host.redactKey),
          deadLetters: partitionReport.deadLetters,
        });
      } else {
        failed++;
        this.#host.stats.failedPartitions++;
        const error = partitionReport.error;
        this.#host.log.error('Partition not delivered', {
          partition: `${state.topic}-${state.partition}`,
          firstUndeliveredOffset: partitionReport.firstUndeliveredOffset,
          committedOffset: partitionReport.committedOffset,
          ...errorFields(error),
        });
        if (error instanceof TopicRecreatedError) {
          this.refuse(state, error);
          continue;
        }
        if (error instanceof PoisonRecordError && this.#host.delivery.errorsTolerance === 'none') {
          // As Kafka Connect fails the task: retrying cannot help. errors.tolerance=all parks such records.
          this.#host.fail(
            new WorkerFatalError(
              `${error.message}; with errors.tolerance=none the worker stops (set errors.tolerance=all to send poison records to the dead-letter prefix)`,
              { cause: error },
            ),
          );
        }
        await this.#reposition(state, partitionReport.firstUndeliveredOffset);
      }
    }
    this.#host.log.info('Flushed', {
      reason,
      partitions: selected.length,
      records,
      failed,
      ms: this.#host.clock.now() - started,
    });
    if (commits.length > 0) await this.#host.commitGroupOffsets(commits);
    return failed;
  }

  /**
   * Stops fetching and delivering a partition whose ledger entry belongs to an earlier topic of
   * the same name (deleted and created again) until the next assignment: a restart after the
   * operator's reset (the file ledger's reset needs the worker stopped), or a rebalance. Its
   * records would otherwise be dropped as duplicates of the old topic's offsets. The log line's
   * `message` and `code` are fixed, for alarms; other partitions go on.
   */
  refuse(state: PartitionState, error: TopicRecreatedError): void {
    state.buffer = [];
    state.retryAt = Number.POSITIVE_INFINITY;
    this.#host.stats.refusedPartitions++;
    this.#host.log.error(TOPIC_RECREATED_MESSAGE, {
      code: error.code,
      partition: `${state.topic}-${state.partition}`,
      topic: state.topic,
      ledgerTopicId: error.ledgerTopicId,
      topicId: error.topicId,
      generation: error.generation,
      committedOffset: error.committedOffset,
      ...errorFields(error),
    });
  }

  /** After a failed delivery: drop the partition's buffer and position it from the ledger again. */
  async #reposition(state: PartitionState, firstUndelivered: number | undefined): Promise<void> {
    state.failures++;
    const delay = Math.min(MAX_RETRY_DELAY_MS, 500 * 2 ** Math.min(state.failures - 1, 6));
    let position = Math.min(firstUndelivered ?? state.bufferStart, state.bufferStart);
    try {
      const entry = await this.#host.ledger.read(state.topic, state.partition);
      if (entry) position = entry.committedOffset + 1;
    } catch (error) {
      this.#host.log.warn('Reading the ledger failed; keeping the buffer start', errorFields(error));
    }
    state.buffer = [];
    state.position = state.bufferStart = position;
    state.retryAt = this.#host.clock.now() + delay;
    this.#host.log.warn('Partition positioned again after a failure', {
      partition: `${state.topic}-${state.partition}`,
      position,
      retryInMs: delay,
    });
  }
}
