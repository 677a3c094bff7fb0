/**
 * In-memory implementations of the compaction ports, with the semantics the real adapters must
 * have (conditional create, conditional cursor move, idempotent delete): for the tests and for a
 * local demonstration. Everything is synchronous underneath, so each port call lands at one
 * instant, which is what lets a test check the invariants after every state.
 */
import { ObjectExistsError } from '../core/errors.ts';
import type { StoredObjectHead } from '../core/ports.ts';
import { CursorConflictError, StagedObjectMissingError } from './errors.ts';
import { stagedObjectOf } from './merge.ts';
import type {
  CompactedObject,
  CompactedStore,
  CompactionCursor,
  CompactionPorts,
  CursorAdvance,
  CursorStore,
  PartitionProgress,
  StagedObject,
  StagingStore,
} from './ports.ts';
import { progressOf, type ResetRecord } from './progress.ts';

/**
 * A bucket and a ledger in memory, and the compaction ports over them (staging under
 * `stagingPrefix`), on `clock`.
 */
export function memoryCompaction(
  clock: CompactionPorts['clock'],
  stagingPrefix: string,
): { bucket: MemoryBucket; ledger: MemoryLedger; ports: CompactionPorts } {
  const bucket = new MemoryBucket(clock.now);
  const ledger = new MemoryLedger();
  const ports: CompactionPorts = {
    cursor: memoryCursorStore(ledger),
    staging: memoryStagingStore(bucket, stagingPrefix),
    sink: memoryCompactedStore(bucket),
    clock,
  };
  return { bucket, ledger, ports };
}

/** One stored object. */
export interface MemoryObject {
  readonly body: Uint8Array;
  readonly contentType: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  readonly storedAt: number;
}

/** A bucket: keys to objects, with S3's conditional create. */
export class MemoryBucket {
  readonly objects = new Map<string, MemoryObject>();
  readonly #now: () => number;
  constructor(now: () => number) {
    this.#now = now;
  }
  /** `PutObject` with `If-None-Match: *`. */
  putIfAbsent(key: string, object: Omit<MemoryObject, 'storedAt'>): void {
    if (this.objects.has(key)) throw new ObjectExistsError(key);
    this.objects.set(key, { ...object, storedAt: this.#now() });
  }
  head(key: string): StoredObjectHead | undefined {
    const object = this.objects.get(key);
    return object ? { key, size: object.body.byteLength, metadata: object.metadata } : undefined;
  }
  /** Keys under `prefix`, sorted. */
  keys(prefix: string): string[] {
    return [...this.objects.keys()].filter((key) => key.startsWith(prefix)).sort();
  }
}

/** One partition's ledger entry as the compactor sees it. */
export interface MemoryLedgerEntry {
  generation: number;
  committedOffset: number;
  resets: ResetRecord[];
  cursor: CompactionCursor | undefined;
  /** The last cursor write's audit fields. */
  cursorAudit?: { readonly lastObjectKey: string | null; readonly updatedAt: string };
}

/** The ledger table: one entry per topic-partition. */
export class MemoryLedger {
  readonly entries = new Map<string, MemoryLedgerEntry>();
  entry(topic: string, partition: number): MemoryLedgerEntry | undefined {
    return this.entries.get(`${topic}\u0000${partition}`);
  }
  /** The entry, created at generation 0 with nothing committed when there is none. */
  ensure(topic: string, partition: number): MemoryLedgerEntry {
    const id = `${topic}\u0000${partition}`;
    let entry = this.entries.get(id);
    if (!entry) this.entries.set(id, (entry = { generation: 0, committedOffset: -1, resets: [], cursor: undefined }));
    return entry;
  }
}

/** The cursor store over a `MemoryLedger`: the cursor is attributes of the partition's entry. */
export function memoryCursorStore(ledger: MemoryLedger): CursorStore {
  return {
    async read(topic, partition): Promise<PartitionProgress | undefined> {
      const entry = ledger.entry(topic, partition);
      return entry ? progressOf(entry) : undefined;
    },
    async advance(topic, partition, expected, next: CursorAdvance): Promise<void> {
      const entry = ledger.entry(topic, partition);
      const stored = entry?.cursor;
      const same =
        stored === undefined || expected === undefined
          ? stored === expected
          : stored.generation === expected.generation && stored.offset === expected.offset;
      if (!entry || !same) {
        throw new CursorConflictError(
          `Compaction cursor of ${topic}-${partition} moved: expected ${show(expected)}, found ${entry ? show(stored) : 'no ledger entry'}`,
        );
      }
      entry.cursor = { generation: next.generation, offset: next.offset };
      entry.cursorAudit = { lastObjectKey: next.lastObjectKey, updatedAt: next.updatedAt };
    },
  };
}

const show = (cursor: CompactionCursor | undefined): string =>
  cursor ? `generation ${cursor.generation} offset ${cursor.offset}` : 'none';

/** The staging store over a bucket's staging prefix. */
export function memoryStagingStore(bucket: MemoryBucket, stagingPrefix: string): StagingStore {
  return {
    async list(topic, partition): Promise<StagedObject[]> {
      const found: StagedObject[] = [];
      for (const key of bucket.keys(`${stagingPrefix}${topic}/`)) {
        const object = bucket.objects.get(key)!;
        const staged = stagedObjectOf(stagingPrefix, {
          key,
          size: object.body.byteLength,
          stagedAt: object.storedAt,
          contentType: object.contentType,
          metadata: object.metadata,
        });
        if (staged && staged.descriptor.partition === partition) found.push(staged);
      }
      return found;
    },
    async *open(key): AsyncGenerator<Uint8Array> {
      const object = bucket.objects.get(key);
      if (!object) throw new StagedObjectMissingError(key);
      yield object.body;
    },
    async delete(key): Promise<void> {
      bucket.objects.delete(key);
    },
  };
}

/** The sink prefix over a bucket: the body is read whole, then created at once (a completed multipart upload). */
export function memoryCompactedStore(bucket: MemoryBucket): CompactedStore {
  return {
    async create(object: CompactedObject): Promise<void> {
      const body = await collect(object.body);
      bucket.putIfAbsent(object.key, { body, contentType: object.contentType, metadata: object.metadata });
    },
    async head(key) {
      return bucket.head(key);
    },
  };
}

/** An async iterable's chunks in one array. */
export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    parts.push(chunk);
    size += chunk.byteLength;
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    body.set(part, at);
    at += part.byteLength;
  }
  return body;
}
