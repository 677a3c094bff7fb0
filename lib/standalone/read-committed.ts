/**
 * Read-committed filtering of one partition's fetch response, as Kafka's Java consumer does it
 * (`org.apache.kafka.clients.consumer.internals.CompletedFetch#nextFetchedRecord`), so that the
 * standalone worker never delivers a record of an aborted transaction.
 *
 * Why not the client's own filter: `@platformatic/kafka` 2.12.1 (`Consumer#filterUncommittedMessages`)
 * keeps one aborted range per producer (a `Map` keyed by producer id, so the last listed
 * transaction's first offset wins) and drops a range only when its ABORT marker is in the same
 * response, so a response cut before the marker (`partitionMaxBytes`) hands the aborted records
 * over as if committed, and a later refetch cannot take them back. On what a broker serves, that
 * filter only removes batches of aborted transactions (a producer's batches between the first
 * offset of its aborted transaction and its ABORT marker all belong to that transaction; control
 * batches are left alone), so running this one after it gives the same records as running this
 * one alone (the property test checks both).
 *
 * The Java consumer's algorithm, on the batches of one response in log order:
 * - the response's aborted transactions (producer id, first offset) are taken in first-offset
 *   order; before a batch that has a producer id is looked at, every aborted transaction whose
 *   first offset is at or below the batch's last offset makes its producer "aborted";
 * - a control batch whose first record is an ABORT marker ends its producer's aborted
 *   transaction (the producer is no longer "aborted");
 * - any other transactional batch of an "aborted" producer is skipped whole;
 * - control batches are never records; records below the fetch offset (a batch that began
 *   before it) are not delivered again;
 * - the next fetch offset is the end of the last batch of the response (aborted and control
 *   batches included), or the fetch offset when the response has no batch.
 *
 * The broker, asked for READ_COMMITTED, returns batches only below the last stable offset (the
 * first offset of the oldest open transaction) and lists the aborted transactions that overlap
 * what it returned, whether or not their ABORT marker is in the response. This module relies on
 * both, like the Java consumer; it does not cut at the response's `lastStableOffset` field,
 * which the broker reads before the records and so may lie below records it legitimately returned.
 */
import { SinkError } from '../core/errors.ts';

/** Attribute bits of a record batch (Kafka's `DefaultRecordBatch`). */
export const BatchAttributes = {
  transactional: 0x10,
  control: 0x20,
} as const;

/** Control record types (Kafka's `ControlRecordType`), the `type` field of a control record's key. */
export const ControlRecordType = {
  abort: 0,
  commit: 1,
} as const;

/** What this module reads of a record (a subset of `@platformatic/kafka`'s `KafkaRecord`). */
export interface FetchedRecord {
  readonly offsetDelta: number;
  readonly key: Buffer | null;
}

/** What this module reads of a record batch (a subset of `@platformatic/kafka`'s `RecordsBatch`). */
export interface FetchedBatch<R extends FetchedRecord = FetchedRecord> {
  readonly firstOffset: bigint;
  readonly lastOffsetDelta: number;
  readonly attributes: number;
  /** -1 when the batch has no producer id (neither idempotent nor transactional). */
  readonly producerId: bigint;
  readonly records: readonly R[];
}

/** An entry of a fetch response's `abortedTransactions`. */
export interface AbortedTransaction {
  readonly producerId: bigint;
  readonly firstOffset: bigint;
}

/** One partition of a fetch response, as far as read-committed filtering needs it. */
export interface FetchedPartition<B extends FetchedBatch = FetchedBatch> {
  readonly records?: readonly B[] | null | undefined;
  readonly abortedTransactions?: readonly AbortedTransaction[] | null | undefined;
}

/** A record a read-committed consumer delivers, with its batch (for timestamps and headers). */
export interface CommittedRecord<B extends FetchedBatch> {
  readonly batch: B;
  readonly record: B['records'][number];
  readonly offset: number;
}

/** What one partition of a fetch response yields to a read-committed consumer. */
export interface ReadCommittedResult<B extends FetchedBatch> {
  /** The records to deliver, in offset order. */
  readonly records: Array<CommittedRecord<B>>;
  /** Where the next fetch starts: past every batch of the response, skipped ones included. */
  readonly nextOffset: number;
  /** Data batches skipped as part of an aborted transaction. */
  readonly abortedBatches: number;
}

/** A control batch whose record key is too short to say what marker it is. */
export class MalformedControlRecordError extends SinkError {
  constructor(where: { readonly topic: string; readonly partition: number; readonly offset: bigint }, keyLength: number | undefined) {
    super(
      `Fetch response for ${where.topic}-${where.partition}: the control record at offset ${where.offset} has ` +
        `${keyLength === undefined ? 'no key' : `a key of ${keyLength} bytes`} (a control record key is a 2-byte version and a 2-byte type)`,
    );
    this.name = 'MalformedControlRecordError';
  }
}

/**
 * The records a read-committed Kafka consumer delivers from one partition's fetch response
 * fetched at `fetchOffset` (see the module comment), and the offset to fetch next.
 * `where` only names the partition in errors.
 */
export function readCommitted<B extends FetchedBatch>(
  partition: FetchedPartition<B>,
  fetchOffset: number,
  where: { readonly topic: string; readonly partition: number },
): ReadCommittedResult<B> {
  const batches = partition.records ?? [];
  // Ascending first offset: what the Java consumer's PriorityQueue yields.
  const pending = [...(partition.abortedTransactions ?? [])].sort((a, b) =>
    a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0,
  );
  let nextPending = 0;
  const abortedProducers = new Set<bigint>();
  const records: Array<CommittedRecord<B>> = [];
  let nextOffset = fetchOffset;
  let abortedBatches = 0;
  for (const batch of batches) {
    const lastOffset = batch.firstOffset + BigInt(batch.lastOffsetDelta);
    // Java: nextFetchOffset = currentBatch.nextOffset() once the batches are exhausted.
    nextOffset = Math.max(nextOffset, Number(lastOffset) + 1);
    const control = (batch.attributes & BatchAttributes.control) !== 0;
    if (batch.producerId >= 0n) {
      while (nextPending < pending.length && pending[nextPending]!.firstOffset <= lastOffset) {
        abortedProducers.add(pending[nextPending]!.producerId);
        nextPending++;
      }
      if (control && isAbortMarker(batch, where)) {
        abortedProducers.delete(batch.producerId);
      } else if ((batch.attributes & BatchAttributes.transactional) !== 0 && abortedProducers.has(batch.producerId)) {
        abortedBatches++;
        continue;
      }
    }
    if (control) continue;
    for (const record of batch.records) {
      const offset = Number(batch.firstOffset + BigInt(record.offsetDelta));
      if (offset < fetchOffset) continue; // the batch began before the fetch offset
      records.push({ batch, record, offset });
    }
  }
  return { records, nextOffset, abortedBatches };
}

/** Java's `containsAbortMarker`: a control batch whose first record's key has type ABORT. */
function isAbortMarker(batch: FetchedBatch, where: { readonly topic: string; readonly partition: number }): boolean {
  const first = batch.records[0];
  if (first === undefined) return false;
  const key = first.key;
  if (key === null || key.length < 4) {
    throw new MalformedControlRecordError({ ...where, offset: batch.firstOffset + BigInt(first.offsetDelta) }, key?.length);
  }
  return key.readInt16BE(2) === ControlRecordType.abort;
}
