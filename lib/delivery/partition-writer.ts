import { ObjectExistsError, type PoisonRecordError } from '../core/errors.ts';
import type { KafkaRecord, PartitionBatch } from '../core/model.ts';
import { encodeDeadLetter } from '../format/dead-letter.ts';
import { type NamingSettings, namingFingerprint, objectKey } from '../layout/naming.ts';
import { toMetadata } from '../layout/object-metadata.ts';
import { type ChainPlace, checkAdoptable, namingOf, recordedChainKey } from './adoption.ts';
import { type Chunk, defaultLayout, encodeChunk } from './encode-chunk.ts';
import { LedgerCursor } from './ledger-cursor.ts';
import type { DeliveryOptions, DeliveryPorts } from './options.ts';
import type { PartitionReport } from './partition-report.ts';

/**
 * Delivers one topic-partition of a batch by the ledger protocol (docs/protocol.md):
 *
 *   1. read the ledger (strongly consistent);
 *   2. drop records at or below the committed offset;
 *   3. encode the rest into one object whose key is a function of the range's first record (its
 *      offset, and the layout's path for it); rotation and path changes may cut it short;
 *   4. create it with `If-None-Match: *`; on 412 read the existing object's last offset from its
 *      metadata and adopt it (its records are the same Kafka records);
 *   5. advance the ledger to the object's last offset, conditional on the position read;
 *   6. repeat 3-5 after that offset until the batch is covered.
 *
 * Objects of one partition are written strictly in order; the ledger never moves past an object
 * that is not durable, and never backwards.
 *
 * This class runs the loop and writes objects (steps L and P); the other steps live beside it:
 * encode-chunk.ts (E), adoption.ts (the checks of P′ and N), ledger-cursor.ts (R, D, N's
 * declaration, C and C′).
 */
export class PartitionWriter {
  readonly #options: DeliveryOptions;
  readonly #ports: DeliveryPorts;
  readonly #batch: PartitionBatch;
  readonly #objectsWritten: string[] = [];
  readonly #objectsAdopted: string[] = [];
  #recordsWritten = 0;
  #bytesWritten = 0;
  #deadLetters = 0;
  #oldestTimestamp: number | undefined;
  /** The ledger entry as this writer last read or wrote it (steps R, D, N, C). */
  readonly #ledger: LedgerCursor;
  readonly #naming: NamingSettings;
  readonly #fingerprint: string;

  constructor(batch: PartitionBatch, options: DeliveryOptions, ports: DeliveryPorts) {
    this.#batch = batch;
    this.#options = options;
    this.#ports = ports;
    this.#ledger = new LedgerCursor(batch, ports.ledger, ports.clock);
    this.#naming = namingOf(options);
    this.#fingerprint = namingFingerprint(this.#naming);
  }

  /** Runs the protocol; never throws: a failure is reported with the first undelivered offset. */
  async deliver(): Promise<PartitionReport> {
    let skippedDuplicates = 0;
    try {
      await this.#ledger.read();
      skippedDuplicates = this.#firstPending(); // offsets ascend: the records before it are all duplicates

      for (;;) {
        const pending = this.#pending();
        if (pending.length === 0) return this.#report('delivered', skippedDuplicates);
        // Settings that name objects changed since the ledger recorded them (or none are recorded):
        // a crashed writer may have left the next chain object under the recorded ones. Adopt it
        // if so; otherwise record ours before creating anything under them. Once per change.
        if (this.#ledger.recordedNaming !== this.#fingerprint) {
          if (!(await this.#adoptUnderRecordedNaming(pending[0]!))) await this.#ledger.declareNaming(this.#fingerprint);
          continue;
        }
        const chunk = encodeChunk(pending, {
          options: this.#options,
          topic: this.#batch.topic,
          partition: this.#batch.partition,
          generation: this.#ledger.generation,
        });
        // errors.tolerance=none: the partition stops just before the poison record. What came
        // before it is written and committed first; the next turn finds the poison record first.
        // (Nothing covered, not nothing counted: raw bytes count no tombstone.)
        if (chunk.lastOffset < chunk.firstOffset) throw chunk.poison!;
        await this.#writeChunk(chunk);
      }
    } catch (error) {
      return this.#report('failed', skippedDuplicates, error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Index of the batch's first record above the committed offset (the batch's length if none). */
  #firstPending(): number {
    const records = this.#batch.records;
    const committed = this.#ledger.committed;
    let i = 0;
    while (i < records.length && records[i]!.offset <= committed) i++;
    return i;
  }

  /** Records of the batch above the committed offset. */
  #pending(): readonly KafkaRecord[] {
    const start = this.#firstPending();
    return start === 0 ? this.#batch.records : this.#batch.records.slice(start);
  }

  /**
   * Steps L, P, P′ and C for one chunk: its dead letters, its object (or the one already under its
   * key, checked and adopted), then the commit of what that object covers.
   */
  async #writeChunk(chunk: Chunk): Promise<void> {
    const { topic, partition } = this.#batch;
    const { format, compression, prefix } = this.#options;

    // Dead letters first: once the ledger covers the range, every offset in it is durable,
    // in the object or in the dead-letter prefix. Their keys are deterministic too, so a
    // retry's 412 means the same letter is already there.
    for (const { record, error } of chunk.deadLetters) await this.#writeDeadLetter(record, error);

    const key = objectKey({
      prefix,
      topic,
      partition,
      generation: this.#ledger.generation,
      firstOffset: chunk.firstOffset,
      extension: `${format.extension}${compression.extension}`,
      path: chunk.path,
    });
    // Off the event loop where the codec can: a long-running worker fetches meanwhile.
    const body = compression.compressAsync ? await compression.compressAsync(chunk.body) : compression.compress(chunk.body);
    const metadata = toMetadata({
      topic,
      partition,
      generation: this.#ledger.generation,
      // The link to the object before: every writer that aims at this key read this same
      // committed offset (docs/protocol.md), so the metadata stays a function of the key.
      afterOffset: this.#ledger.committed,
      firstOffset: chunk.firstOffset,
      lastOffset: chunk.lastOffset,
      recordCount: chunk.recordCount,
      minTimestamp: chunk.minTimestamp,
      maxTimestamp: chunk.maxTimestamp,
      format: format.name,
      formatVersion: format.version,
    });

    let coveredUpTo: number;
    let recordCount = chunk.recordCount;
    try {
      await this.#ports.store.putIfAbsent({
        key,
        body,
        contentType: compression.contentType ?? format.contentType,
        metadata,
      });
      coveredUpTo = chunk.lastOffset;
      this.#objectsWritten.push(key);
      this.#recordsWritten += chunk.recordCount;
      this.#bytesWritten += body.byteLength;
      const oldest = chunk.minTimestamp;
      if (oldest !== undefined && (this.#oldestTimestamp === undefined || oldest < this.#oldestTimestamp)) {
        this.#oldestTimestamp = oldest;
      }
    } catch (error) {
      if (!(error instanceof ObjectExistsError)) throw error;
      // 412: an object already starts at this offset: a lost reply to our own earlier attempt,
      // a concurrent writer, or a dead one. Its records are the same Kafka records, but its
      // range may end before or after ours: read it, never assume.
      const head = await this.#ports.store.head(key);
      if (!head) return; // deleted in between (a prune): the caller's loop writes it again
      const existing = checkAdoptable(key, head, this.#chainPlace(chunk.firstOffset), this.#naming, this.#options.layout ?? defaultLayout);
      coveredUpTo = existing.lastOffset;
      recordCount = existing.recordCount;
      this.#objectsAdopted.push(key);
    }
    // Step C, once the object (and its dead letters) are durable.
    await this.#ledger.commit(coveredUpTo, key, recordCount);
  }

  /** Step L for one poison record: its dead letter, under a key of its offset; already there (412) is done. */
  async #writeDeadLetter(record: KafkaRecord, error: PoisonRecordError): Promise<void> {
    const { topic, partition } = this.#batch;
    const key = objectKey({
      prefix: this.#options.deadLetterPrefix,
      topic,
      partition,
      generation: this.#ledger.generation,
      firstOffset: record.offset,
      extension: '.json',
    });
    try {
      await this.#ports.store.putIfAbsent({
        key,
        body: encodeDeadLetter(record, error),
        contentType: 'application/json',
        metadata: { topic, partition: String(partition), offset: String(record.offset), error: error.name },
      });
      this.#deadLetters += 1;
    } catch (putError) {
      if (!(putError instanceof ObjectExistsError)) throw putError;
    }
  }

  /** Where a chain object starting at `firstOffset` must sit to be adopted. */
  #chainPlace(firstOffset: number): ChainPlace {
    const { topic, partition } = this.#batch;
    return { topic, partition, generation: this.#ledger.generation, firstOffset, afterOffset: this.#ledger.committed };
  }

  /**
   * Looks for the next chain object under the naming settings the ledger recorded (a writer with
   * those settings may have created it and died before its commit) and adopts it: commits its end
   * under the recorded naming. False when there is none, or the recorded settings are unknown.
   */
  async #adoptUnderRecordedNaming(first: KafkaRecord): Promise<boolean> {
    const fingerprint = this.#ledger.recordedNaming;
    if (fingerprint === undefined) return false;
    const { topic, partition } = this.#batch;
    const recorded = recordedChainKey(fingerprint, { topic, partition, generation: this.#ledger.generation }, first);
    if (recorded === undefined) return false;
    const head = await this.#ports.store.head(recorded.key);
    if (!head) return false;
    const existing = checkAdoptable(recorded.key, head, this.#chainPlace(first.offset), recorded.naming, recorded.layout);
    this.#objectsAdopted.push(recorded.key);
    await this.#ledger.commit(existing.lastOffset, recorded.key, existing.recordCount);
    return true;
  }

  #report(status: PartitionReport['status'], skippedDuplicates: number, error?: Error): PartitionReport {
    const { topic, partition, records } = this.#batch;
    const firstUndelivered = records.find((record) => record.offset > this.#ledger.committed)?.offset;
    return {
      topic,
      partition,
      status,
      received: records.length,
      skippedDuplicates,
      recordsWritten: this.#recordsWritten,
      bytesWritten: this.#bytesWritten,
      objectsWritten: this.#objectsWritten,
      objectsAdopted: this.#objectsAdopted,
      deadLetters: this.#deadLetters,
      ...(this.#ledger.skipRecorded ? { skippedRange: this.#ledger.skipRecorded } : {}),
      generation: this.#ledger.generation,
      committedOffset: this.#ledger.committed,
      oldestTimestamp: this.#oldestTimestamp,
      ...(status === 'failed' ? { firstUndeliveredOffset: firstUndelivered, error } : {}),
    };
  }
}
