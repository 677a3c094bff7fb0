/**
 * Step E of the ledger protocol (docs/protocol.md): the records of one object, from the first one
 * after the committed offset to a cut, encoded into its body. A pure function of the records and
 * the settings, never of the wall clock: every writer that starts an object at the same offset
 * cuts it at the same place (or at the end of its batch, which a 412 and adoption reconcile).
 */
import { PoisonRecordError } from '../core/errors.ts';
import type { KafkaRecord } from '../core/model.ts';
import { createLayout, DEFAULT_LAYOUT, type Layout, pathRoom, UNPARTITIONED_PATH } from '../layout/layout.ts';
import { type DeliveryOptions, ErrorsTolerance } from './options.ts';

/** The layout when the options give none: `partition={p}`, as before layouts existed. */
export const defaultLayout: Layout = createLayout(DEFAULT_LAYOUT);

/** One object's worth of records, encoded: what steps L, P and C write and commit. */
export interface Chunk {
  /** Records of the range, in order: those in `body` and those in `deadLetters`. */
  readonly firstOffset: number;
  /** The object's directory: the layout's path of its first record. */
  readonly path: string;
  readonly lastOffset: number;
  /** The object's body (uncompressed) and how many records it holds. */
  readonly body: Uint8Array;
  readonly recordCount: number;
  /** The oldest and newest timestamps of the records in `body` (undefined: none has one). */
  readonly minTimestamp: number | undefined;
  readonly maxTimestamp: number | undefined;
  readonly deadLetters: Array<{ record: KafkaRecord; error: PoisonRecordError }>;
  /** Set when errors.tolerance=none stopped the chunk before a poison record. */
  readonly poison: PoisonRecordError | undefined;
}

/** Where a chunk goes: the settings, the topic-partition and the ledger generation it is written in. */
export interface ChunkPlace {
  readonly options: DeliveryOptions;
  readonly topic: string;
  readonly partition: number;
  readonly generation: number;
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
export function encodeChunk(records: readonly KafkaRecord[], at: ChunkPlace): Chunk {
  const { options, topic, partition, generation } = at;
  const { format, errorsTolerance, rotation } = options;
  const layout = options.layout ?? defaultLayout;
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
    prefix: options.prefix,
    topic,
    partition,
    generation,
    firstOffset: 0,
    extension: `${format.extension}${options.compression.extension}`,
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

/** The directory of an object whose first record is `record`, as `encodeChunk` names it. */
export function pathOf(layout: Layout, record: KafkaRecord): string {
  const fixed = layout.fixedPath(record);
  if (fixed !== undefined) return fixed;
  try {
    return layout.route(record).path;
  } catch {
    return UNPARTITIONED_PATH;
  }
}
