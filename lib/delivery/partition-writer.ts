import {
  CorruptObjectError,
  LedgerConflictError,
  LedgerResetError,
  ObjectExistsError,
  PoisonRecordError,
  TopicRecreatedError,
} from '../core/errors.ts';
import { encodeDeadLetter } from '../format/dead-letter.ts';
import { createLayout, DEFAULT_LAYOUT, type Layout, type LayoutSettings, pathRoom, UNPARTITIONED_PATH } from '../layout/layout.ts';
import type { KafkaRecord, PartitionBatch } from '../core/model.ts';
import { type NamingSettings, namingFingerprint, objectKey, parseNamingFingerprint } from '../layout/naming.ts';
import { fromMetadata, type ObjectDescriptor, toMetadata } from '../layout/object-metadata.ts';
import {
  type LedgerEntry,
  type LedgerPosition,
  MAX_SKIPPED_RANGES,
  SkipKind,
  type SkippedRange,
  type StoredObjectHead,
} from '../core/ports.ts';
import { namingOf } from './adoption.ts';
import { type Chunk, defaultLayout, pathOf } from './encode-chunk.ts';
import { ErrorsTolerance, type DeliveryOptions, type DeliveryPorts } from './options.ts';
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
  #generation = 0;
  #committed = -1;
  #position: LedgerPosition | undefined;
  /** The skipped ranges and the naming settings on the entry as last read. */
  #skippedRanges: readonly SkippedRange[] = [];
  #recordedNaming: string | undefined;
  /** Found at the ledger read, recorded with the first commit from that position. */
  #skip: SkippedRange | undefined;
  #skipRecorded: SkippedRange | undefined;
  readonly #naming: NamingSettings;
  readonly #fingerprint: string;

  constructor(batch: PartitionBatch, options: DeliveryOptions, ports: DeliveryPorts) {
    this.#batch = batch;
    this.#options = options;
    this.#ports = ports;
    this.#naming = namingOf(options);
    this.#fingerprint = namingFingerprint(this.#naming);
  }

  /** Runs the protocol; never throws: a failure is reported with the first undelivered offset. */
  async deliver(): Promise<PartitionReport> {
    const { topic, partition, records } = this.#batch;
    let skippedDuplicates = 0;
    try {
      const entry = await this.#ports.ledger.read(topic, partition);
      this.#take(entry);
      skippedDuplicates = this.#firstPending(); // offsets ascend: the records before it are all duplicates
      this.#skip = this.#skippedBefore(records[0]);

      for (;;) {
        const pending = this.#pending();
        if (pending.length === 0) return this.#report('delivered', skippedDuplicates);
        // Settings that name objects changed since the ledger recorded them (or none are recorded):
        // a crashed writer may have left the next chain object under the recorded ones. Adopt it
        // if so; otherwise record ours before creating anything under them. Once per change.
        if (this.#recordedNaming !== this.#fingerprint) {
          if (!(await this.#adoptUnderRecordedNaming(pending[0]!))) await this.#declareNaming();
          continue;
        }
        const chunk = this.#encode(pending);
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
    const committed = this.#committed;
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
   * Encodes records into one chunk, from the first pending record. The chunk is cut before a
   * record (the next turn starts an object with it) when the record's path differs from the
   * chunk's, or a rotation limit is reached: max records, max bytes, or record time at or past
   * the chunk's first record time + rotate interval. Every cut depends only on the records from
   * the chunk's first one on, so writers that start at the same offset cut at the same place (or
   * at the end of their batch, which a 412 and adoption reconcile). A poison record stops the
   * chunk just before it when errors.tolerance=none, or goes to the dead letters (`all`).
   */
  #encode(records: readonly KafkaRecord[]): Chunk {
    const { format, errorsTolerance, rotation } = this.#options;
    const layout = this.#options.layout ?? defaultLayout;
    const maxRecords = rotation?.maxRecords;
    const maxBytes = rotation?.maxBytes;
    const intervalMs = rotation?.intervalMs;
    const writer = format.createWriter(maxRecords !== undefined && maxRecords < records.length ? records.slice(0, maxRecords) : records);
    const deadLetters: Chunk['deadLetters'] = [];
    let poison: PoisonRecordError | undefined;
    let minTimestamp: number | undefined;
    let maxTimestamp: number | undefined;
    let path: string | undefined;
    let firstTime: number | undefined;
    let last = -1;
    // The default layout puts the whole partition in one directory: no route per record, and
    // record times only when a rotation interval needs them.
    const fixedPath = records.length > 0 ? layout.fixedPath(records[0]!) : undefined;
    // Every per-record failure is a poison record, whatever threw it: one record never fails
    // the chunk (issue 14). The reason names the error's class only: its message may quote data.
    const poisonOf = (record: KafkaRecord, stage: string, thrown: unknown): PoisonRecordError =>
      thrown instanceof PoisonRecordError
        ? thrown
        : new PoisonRecordError(record, `${stage} failed (${thrown instanceof Error ? thrown.name : 'error'})`);
    // S3 takes keys up to 1,024 bytes: a record whose object key would be longer is poison, and
    // its range goes under `_unpartitioned` (whose keys always fit: lib/config/config.ts checks prefixes).
    const room = pathRoom({
      prefix: this.#options.prefix,
      topic: this.#batch.topic,
      partition: this.#batch.partition,
      generation: this.#generation,
      firstOffset: 0,
      extension: `${format.extension}${this.#options.compression.extension}`,
    });
    for (const record of records) {
      let recordPath: string | undefined;
      let recordTime: number | undefined;
      let error: PoisonRecordError | undefined;
      if (fixedPath !== undefined) {
        recordPath = fixedPath;
        if (intervalMs !== undefined) recordTime = layout.time(record);
      } else {
        try {
          ({ path: recordPath, time: recordTime } = layout.route(record));
        } catch (routeError) {
          error = poisonOf(record, 'the layout', routeError);
        }
      }
      if (recordPath !== undefined && recordPath.length > room) {
        const field = layout.settings.partitionField === undefined ? {} : { field: `value.${layout.settings.partitionField}` };
        error = new PoisonRecordError(
          record,
          `its object key would be ${1024 - room + recordPath.length} bytes, past S3's limit of 1,024`,
          field,
        );
        recordPath = undefined;
      }
      if (path === undefined) {
        // The first record names the object's directory; one the partitioner cannot place
        // (dead-lettered below) puts the object under `_unpartitioned`.
        path = recordPath ?? UNPARTITIONED_PATH;
      } else if (
        (recordPath !== undefined && recordPath !== path) ||
        (maxRecords !== undefined && writer.count >= maxRecords) ||
        (maxBytes !== undefined && writer.size >= maxBytes) ||
        (intervalMs !== undefined && firstTime !== undefined && recordTime !== undefined && recordTime >= firstTime + intervalMs)
      ) {
        break;
      }
      if (error === undefined) {
        try {
          writer.write(record);
        } catch (writeError) {
          error = poisonOf(record, `the ${format.name} format`, writeError);
        }
      }
      if (error !== undefined) {
        if (errorsTolerance === ErrorsTolerance.none) {
          poison = error;
          break;
        }
        deadLetters.push({ record, error });
      } else {
        if (firstTime === undefined && recordTime !== undefined) firstTime = recordTime;
        // Only whole epoch ms go to the metadata, which readers (and a 412's adoption) take as
        // integers: a fractional or huge producer timestamp would make the object unreadable.
        if (record.timestamp !== null && Number.isSafeInteger(record.timestamp)) {
          if (minTimestamp === undefined || record.timestamp < minTimestamp) minTimestamp = record.timestamp;
          if (maxTimestamp === undefined || record.timestamp > maxTimestamp) maxTimestamp = record.timestamp;
        }
      }
      last = record.offset;
    }
    const recordCount = writer.count;
    return {
      firstOffset: records[0]!.offset,
      path: path!,
      lastOffset: last,
      body: writer.finish(),
      recordCount,
      minTimestamp,
      maxTimestamp,
      deadLetters,
      poison,
    };
  }

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
      generation: this.#generation,
      firstOffset: chunk.firstOffset,
      extension: `${format.extension}${compression.extension}`,
      path: chunk.path,
    });
    // Off the event loop where the codec can: a long-running worker fetches meanwhile.
    const body = compression.compressAsync ? await compression.compressAsync(chunk.body) : compression.compress(chunk.body);
    const metadata = toMetadata({
      topic,
      partition,
      generation: this.#generation,
      // The link to the object before: every writer that aims at this key read this same
      // committed offset (docs/protocol.md), so the metadata stays a function of the key.
      afterOffset: this.#committed,
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
      const existing = this.#adoptable(key, head, chunk.firstOffset, this.#naming, this.#options.layout ?? defaultLayout);
      coveredUpTo = existing.lastOffset;
      recordCount = existing.recordCount;
      this.#objectsAdopted.push(key);
    }
    await this.#commit(coveredUpTo, key, recordCount);
  }

  async #writeDeadLetter(record: KafkaRecord, error: PoisonRecordError): Promise<void> {
    const { topic, partition } = this.#batch;
    const key = objectKey({
      prefix: this.#options.deadLetterPrefix,
      topic,
      partition,
      generation: this.#generation,
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

  /**
   * Advances the ledger to `offset`, conditional on the position this writer last saw. Invariant:
   * called only once every offset up to `offset` is durable in S3 (or the dead-letter prefix).
   * If another writer got there first, its position stands when it is at or beyond ours
   * (the ledger never moves back); a new generation (a reset) stops this writer.
   */
  async #commit(offset: number, key: string, recordCount: number): Promise<void> {
    const { topic, partition } = this.#batch;
    for (;;) {
      // The skipped range goes with the first commit from the position it was measured at; a
      // writer that finds the ledger moved on leaves it to whoever moved it.
      const skip = this.#skip !== undefined && this.#skip.fromOffset === this.#committed + 1 ? this.#skip : undefined;
      const skippedRanges = skip ? [...this.#skippedRanges.slice(-(MAX_SKIPPED_RANGES - 1)), skip] : undefined;
      try {
        await this.#ports.ledger.advance(this.#position, {
          topic,
          partition,
          generation: this.#generation,
          committedOffset: offset,
          lastObjectKey: key,
          lastRecordCount: recordCount,
          updatedAt: new Date(this.#ports.clock.now()).toISOString(),
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
        const current = await this.#ports.ledger.read(topic, partition);
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
      detectedAt: new Date(this.#ports.clock.now()).toISOString(),
    };
  }

  /**
   * Checks an object found under a chain key (412) before adopting it. Invariant: a chain object
   * starts at its key's offset, continues from the committed offset this writer read (every writer
   * aiming at the key read the same one), holds no more records than its offsets can, and is in a
   * format and version this sink writes. Anything else was not written by the protocol (a planted
   * or damaged object): adopting it could commit offsets nobody delivered, so the partition stops.
   */
  #adoptable(key: string, head: StoredObjectHead, firstOffset: number, naming: NamingSettings, layout: Layout): ObjectDescriptor {
    const { topic, partition } = this.#batch;
    // The error travels to logs and to Lambda: its key shows field-partitioned directories as `*`.
    const corrupt = (reason: string, cause?: unknown) =>
      new CorruptObjectError(layout.redactKey(key, naming.prefix), reason, cause === undefined ? undefined : { cause });
    let existing: ObjectDescriptor;
    try {
      existing = fromMetadata(key, head.metadata);
    } catch (error) {
      if (error instanceof CorruptObjectError) throw corrupt(error.reason);
      throw error;
    }
    const problem =
      existing.topic !== topic || existing.partition !== partition
        ? `its metadata names ${existing.topic}-${existing.partition}`
        : existing.generation !== this.#generation || existing.firstOffset !== firstOffset
          ? `its metadata says generation ${existing.generation} from offset ${existing.firstOffset}, its key says ` +
            `generation ${this.#generation} from offset ${firstOffset}`
          : existing.afterOffset !== this.#committed
            ? `it continues from offset ${existing.afterOffset}, but the ledger is at ${this.#committed}`
            : existing.recordCount > existing.lastOffset - existing.firstOffset + 1
              ? `${existing.recordCount} records cannot fit in offsets ${existing.firstOffset}..${existing.lastOffset}`
              : existing.format !== naming.format
                ? `its format is ${JSON.stringify(existing.format)}, not ${naming.format}`
                : existing.formatVersion !== naming.formatVersion
                  ? `its format version ${JSON.stringify(existing.formatVersion)} is unknown (this sink writes ${naming.formatVersion})`
                  : undefined;
    if (problem !== undefined) throw corrupt(problem);
    return existing;
  }

  /**
   * Looks for the next chain object under the naming settings the ledger recorded (a writer with
   * those settings may have created it and died before its commit) and adopts it: commits its end
   * under the recorded naming. False when there is none, or the recorded settings are unknown.
   */
  async #adoptUnderRecordedNaming(first: KafkaRecord): Promise<boolean> {
    if (this.#recordedNaming === undefined) return false;
    const recorded = parseNamingFingerprint(this.#recordedNaming);
    if (recorded === undefined) return false;
    let layout: Layout;
    try {
      layout = createLayout({ ...DEFAULT_LAYOUT, ...(recorded.layout as Partial<LayoutSettings>) });
    } catch {
      return false;
    }
    const parts = {
      prefix: recorded.prefix,
      topic: this.#batch.topic,
      partition: this.#batch.partition,
      generation: this.#generation,
      firstOffset: first.offset,
      extension: recorded.extension,
    };
    // As #encode names it: a path that would make the key too long for S3 goes under _unpartitioned.
    let path = pathOf(layout, first);
    if (Buffer.byteLength(path) > pathRoom(parts)) path = UNPARTITIONED_PATH;
    const key = objectKey({ ...parts, path });
    const head = await this.#ports.store.head(key);
    if (!head) return false;
    const existing = this.#adoptable(key, head, first.offset, recorded, layout);
    this.#objectsAdopted.push(key);
    await this.#commit(existing.lastOffset, key, existing.recordCount);
    return true;
  }

  /** Records this writer's naming settings on the ledger before it creates objects under them. */
  async #declareNaming(): Promise<void> {
    const { topic, partition } = this.#batch;
    try {
      await this.#ports.ledger.declareNaming(this.#position, {
        topic,
        partition,
        naming: this.#fingerprint,
        previous: this.#recordedNaming,
        updatedAt: new Date(this.#ports.clock.now()).toISOString(),
      });
      if (this.#position === undefined) this.#position = { generation: 0, committedOffset: -1 };
      this.#recordedNaming = this.#fingerprint;
    } catch (error) {
      if (!(error instanceof LedgerConflictError)) throw error;
      // Someone else moved the entry (a commit, another declaration, a reset): read it again and
      // let the caller's loop decide from there.
      const current = await this.#ports.ledger.read(topic, partition);
      this.#checkGeneration(current, error);
      this.#take(current);
      if (this.#skip && this.#skip.fromOffset !== this.#committed + 1) this.#skip = undefined;
    }
  }

  #report(status: PartitionReport['status'], skippedDuplicates: number, error?: Error): PartitionReport {
    const { topic, partition, records } = this.#batch;
    const firstUndelivered = records.find((record) => record.offset > this.#committed)?.offset;
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
      ...(this.#skipRecorded ? { skippedRange: this.#skipRecorded } : {}),
      generation: this.#generation,
      committedOffset: this.#committed,
      oldestTimestamp: this.#oldestTimestamp,
      ...(status === 'failed' ? { firstUndeliveredOffset: firstUndelivered, error } : {}),
    };
  }
}
