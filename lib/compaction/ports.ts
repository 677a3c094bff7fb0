/**
 * The ports the compactor core talks through (docs/compaction.md). Like the delivery core it
 * imports no SDK: adapters in `lib/aws/` (and the file ledger for the standalone worker) will
 * implement these; tests implement them in memory and inject faults.
 */
import type { ObjectDescriptor } from '../layout/object-metadata.ts';
import type { Clock, StoredObjectHead } from '../core/ports.ts';

/**
 * How far a topic-partition is compacted: every current record of `generation` with an offset at
 * or below `offset` is in the sink prefix, and every staged object of that generation ending at or
 * below it (and of every older generation) is garbage. `offset` -1: nothing of the generation yet.
 */
export interface CompactionCursor {
  readonly generation: number;
  readonly offset: number;
}

/** What a cursor write also records, for audit (`status`, logs). */
export interface CursorAdvance extends CompactionCursor {
  /** The compacted object the move covers (null: a generation switch, none). */
  readonly lastObjectKey: string | null;
  /** ISO-8601. */
  readonly updatedAt: string;
}

/**
 * A generation an operator's reset superseded: what of it is still current (`currentUpTo`), how
 * far its chain was committed (`end`), and where the generation after it starts (`next`).
 * Taken from the ledger's reset history (`LedgerReset`: `fromOffset`, `toGeneration`, `toOffset`).
 */
export interface SupersededGeneration {
  readonly generation: number;
  /** The committed offset it ended at when reset (its chain is linked up to here). */
  readonly end: number;
  /** Its records at or below this offset are current: min(end, the next generation's start offset). */
  readonly currentUpTo: number;
  /** The generation that replaced it and the committed offset that generation starts from. */
  readonly next: CompactionCursor;
}

/** What the compactor reads of one topic-partition, in one strongly consistent read. */
export interface PartitionProgress {
  /** The compaction cursor; undefined: never written (compaction starts at `initialCursor`). */
  readonly cursor: CompactionCursor | undefined;
  /** Where the cursor starts when there is none: the oldest generation's start. */
  readonly initialCursor: CompactionCursor;
  /** The handler's ledger position: staged objects up to `committedOffset` are committed. */
  readonly generation: number;
  readonly committedOffset: number;
  /** Generations older than `generation` that a reset superseded, oldest first. */
  readonly superseded: readonly SupersededGeneration[];
}

/**
 * The cursor's home: attributes of the partition's ledger item (DynamoDB) or entry (ledger file),
 * beside the handler's committed offset, which it never touches (docs/compaction.md, "The cursor").
 */
export interface CursorStore {
  /** Strongly consistent; undefined when the partition has no ledger entry (nothing staged yet). */
  read(topic: string, partition: number): Promise<PartitionProgress | undefined>;
  /**
   * Writes `next` only if the stored cursor is still exactly `expected` (same generation and
   * offset; undefined: no cursor stored yet). Throws `CursorConflictError` otherwise. Leaves every
   * other attribute of the entry as it is.
   */
  advance(topic: string, partition: number, expected: CompactionCursor | undefined, next: CursorAdvance): Promise<void>;
}

/** A staged object as the staging store lists it. */
export interface StagedObject {
  readonly key: string;
  /** Stored (compressed) bytes. */
  readonly size: number;
  /** When it was stored (S3 `LastModified`), epoch ms: how long its records have waited. */
  readonly stagedAt: number;
  /** The directory between `{staging prefix}{topic}/` and the file name (`partition=3`, `year=2026/…`). */
  readonly path: string;
  /** The file name's extension including compression, e.g. `.jsonl.gz`. */
  readonly extension: string;
  readonly contentType: string | undefined;
  /** Its metadata, read back (`fromMetadata`). */
  readonly descriptor: ObjectDescriptor;
}

/** The staging prefix: the handler's objects, written by the delivery protocol as without compaction. */
export interface StagingStore {
  /** Every staged object of the topic-partition, any generation, in any order. */
  list(topic: string, partition: number): Promise<StagedObject[]>;
  /** The object's bytes, in chunks; throws `StagedObjectMissingError` when it is gone. */
  open(key: string): AsyncIterable<Uint8Array>;
  /** Deletes the object; an absent object is not an error. */
  delete(key: string): Promise<void>;
}

/** An object for the sink prefix, streamed. */
export interface CompactedObject {
  readonly key: string;
  readonly contentType: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  /** The body in chunks; an error while reading it aborts the write (nothing is created). */
  readonly body: AsyncIterable<Uint8Array>;
}

/** The sink prefix. Compacted objects are created once and never overwritten. */
export interface CompactedStore {
  /**
   * Creates the object only if none exists under its key: a multipart upload whose completion
   * carries `If-None-Match: *`, so that it appears whole or not at all. Throws `ObjectExistsError`
   * when an object exists (S3's 412 at completion; the upload is then aborted).
   */
  create(object: CompactedObject): Promise<void>;
  head(key: string): Promise<StoredObjectHead | undefined>;
}

/** Everything the compactor talks through. */
export interface CompactionPorts {
  readonly cursor: CursorStore;
  readonly staging: StagingStore;
  readonly sink: CompactedStore;
  readonly clock: Clock;
}
