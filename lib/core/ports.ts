/**
 * The ports the delivery core talks through. The core never imports an SDK; the AWS adapters in
 * `lib/aws/` implement these, and tests wrap them to inject faults.
 */

/** Where a topic-partition stands in the offset ledger. */
export interface LedgerEntry {
  readonly topic: string;
  readonly partition: number;
  /** Replay generation; starts at 0 and only a reset (replay) raises it. */
  readonly generation: number;
  /** The highest offset durably delivered in this generation (-1: none yet). */
  readonly committedOffset: number;
  /** Key of the object the last commit covered (audit). */
  readonly lastObjectKey: string | null;
  /** Records in that object (audit). */
  readonly lastRecordCount: number;
  /** ISO-8601 time of the last commit (audit). */
  readonly updatedAt: string;
  /**
   * Ranges of offsets the source skipped (oldest first, at most `MAX_SKIPPED_RANGES`): the
   * offsets between the committed offset + 1 and the first record of a batch that started above
   * it. Absent or empty: none recorded.
   */
  readonly skippedRanges?: readonly SkippedRange[];
  /**
   * The naming settings the last commit's objects were written with (prefix, extension, layout),
   * as `namingFingerprint` renders them. Absent: written before the sink recorded them.
   */
  readonly naming?: string;
  /**
   * Kafka's id (UUID) of the topic the committed offsets belong to, as the standalone worker saw it
   * in the cluster's metadata. A topic deleted and created again under the same name gets a new id
   * and starts again at offset 0: a writer whose batch comes from another id refuses it
   * (`TopicRecreatedError`). Absent: not known (written before the sink recorded it, by the Lambda
   * path, whose event carries no topic id, or since a reset, which clears it); then nothing is
   * checked, and the next commit that knows the id records it.
   */
  readonly topicId?: string;
}

/** At most this many skipped ranges are kept on a ledger item (the newest). */
export const MAX_SKIPPED_RANGES = 10;

/**
 * Why offsets were skipped. `gap`: a batch started above the committed offset + 1 (the mapping
 * discarded a batch after its retries or maximum record age, or retention deleted records before
 * they were read; or, for a range of one or two, transaction markers). `start`: the partition's
 * first batch did not start at offset 0 (the mapping's starting position, or retention).
 */
export const SkipKind = { gap: 'gap', start: 'start' } as const;
export type SkipKind = (typeof SkipKind)[keyof typeof SkipKind];

/** A range of offsets, both ends inclusive, that reached the sink from no batch. */
export interface SkippedRange {
  readonly kind: SkipKind;
  /** The generation the range was skipped in. */
  readonly generation: number;
  /** The first offset skipped: the committed offset + 1 (0 at the start). */
  readonly fromOffset: number;
  /** The last offset skipped: the batch's first record's offset − 1. */
  readonly toOffset: number;
  /** ISO-8601 time the writer saw it. */
  readonly detectedAt: string;
}

/** How many offsets a skipped range spans. */
export function skippedCount(range: SkippedRange): number {
  return range.toOffset - range.fromOffset + 1;
}

/** The entry's own fields, copied without any other field the value carries (a reset history, say). */
export function ledgerEntryFields(entry: LedgerEntry): LedgerEntry {
  return {
    topic: entry.topic,
    partition: entry.partition,
    generation: entry.generation,
    committedOffset: entry.committedOffset,
    lastObjectKey: entry.lastObjectKey,
    lastRecordCount: entry.lastRecordCount,
    updatedAt: entry.updatedAt,
    ...(entry.skippedRanges && entry.skippedRanges.length > 0 ? { skippedRanges: entry.skippedRanges } : {}),
    ...(entry.naming !== undefined ? { naming: entry.naming } : {}),
    ...(entry.topicId !== undefined ? { topicId: entry.topicId } : {}),
  };
}

/** What a writer read, on which its next commit is conditional. */
export interface LedgerPosition {
  readonly generation: number;
  readonly committedOffset: number;
}

/** The offset ledger: one entry per topic-partition, moved forward only by conditional writes. */
export interface OffsetLedger {
  /** Strongly consistent read; undefined when the partition has never been committed. */
  read(topic: string, partition: number): Promise<LedgerEntry | undefined>;
  /**
   * Writes `next` only if the stored entry is still in `expected.generation` with a committed
   * offset below `next.committedOffset` (or, when `expected` is undefined, only if there is no
   * entry yet). Throws `LedgerConflictError` when the condition fails. Skipped ranges, naming and
   * topic id that `next` does not carry are left as they are (as DynamoDB's UpdateItem does).
   */
  advance(expected: LedgerPosition | undefined, next: LedgerEntry): Promise<void>;
  /**
   * Records the naming settings a writer is about to create objects under (`LedgerEntry.naming`),
   * before it creates the first one after `expected`. Writes only if the entry is still exactly at
   * `expected` (same generation and committed offset) with `previous` as its naming (undefined: none
   * recorded); with `expected` undefined, only if there is no entry, which it then creates in
   * generation 0 at committed offset -1. Leaves every other field as it is. Throws
   * `LedgerConflictError` when the condition fails.
   */
  declareNaming(expected: LedgerPosition | undefined, declaration: NamingDeclaration): Promise<void>;
}

/** The entry `declareNaming` creates where there is none: generation 0, nothing committed yet. */
export function declaredEntry(declaration: NamingDeclaration): LedgerEntry {
  return {
    topic: declaration.topic,
    partition: declaration.partition,
    generation: 0,
    committedOffset: -1,
    lastObjectKey: null,
    lastRecordCount: 0,
    updatedAt: declaration.updatedAt,
    naming: declaration.naming,
  };
}

/** What `declareNaming` writes. */
export interface NamingDeclaration {
  readonly topic: string;
  readonly partition: number;
  /** The new naming settings (`namingFingerprint`). */
  readonly naming: string;
  /** The naming the writer read, on which the write is conditional (undefined: none). */
  readonly previous: string | undefined;
  /** ISO-8601; the entry's `updatedAt` when the declaration creates it. */
  readonly updatedAt: string;
}

/** What the object store tells of an existing object. */
export interface StoredObjectHead {
  readonly key: string;
  readonly size: number;
  /** User metadata, lower-case names without the `x-amz-meta-` prefix. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** An object to create. */
export interface NewObject {
  readonly key: string;
  readonly body: Uint8Array;
  readonly contentType: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** The object store (S3). Objects are immutable: the sink only ever creates them. */
export interface ObjectStore {
  /**
   * Creates the object only if no object exists under its key (`If-None-Match: *`).
   * Throws `ObjectExistsError` when one does (S3's 412); retries S3's 409
   * ConditionalRequestConflict itself.
   */
  putIfAbsent(object: NewObject): Promise<void>;
  /** The object's head, or undefined when there is no object under the key. */
  head(key: string): Promise<StoredObjectHead | undefined>;
}

/** The time source; injected so tests control it. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => Date.now() };

/**
 * Where the manifest writer keeps its state (`lib/manifest/incremental.ts`). `save` is conditional: `If-Match: etag` when the state was loaded,
 * `If-None-Match: *` when there was none; it returns false (writing nothing) when another run
 * saved in between (S3's 412), so that overlapping runs never lose each other's progress.
 */
export interface ManifestStateStore {
  load(key: string): Promise<{ readonly body: Uint8Array; readonly etag: string } | undefined>;
  save(key: string, body: Uint8Array, etag: string | undefined): Promise<boolean>;
}
