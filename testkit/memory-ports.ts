import { LedgerConflictError, ObjectExistsError } from '../lib/core/errors.ts';
import {
  type Clock,
  declaredEntry,
  type LedgerEntry,
  type LedgerPosition,
  type NamingDeclaration,
  type NewObject,
  type ObjectStore,
  type OffsetLedger,
  type StoredObjectHead,
} from '../lib/core/ports.ts';

/** An in-memory ledger with DynamoDB's conditional semantics, for unit tests without network. */
export class MemoryLedger implements OffsetLedger {
  readonly entries = new Map<string, LedgerEntry>();
  reads = 0;
  writes = 0;

  async read(topic: string, partition: number): Promise<LedgerEntry | undefined> {
    this.reads += 1;
    return this.entries.get(`${topic}/${partition}`);
  }

  async advance(expected: LedgerPosition | undefined, next: LedgerEntry): Promise<void> {
    this.writes += 1;
    const key = `${next.topic}/${next.partition}`;
    const current = this.entries.get(key);
    const holds = expected
      ? current !== undefined && current.generation === expected.generation && current.committedOffset < next.committedOffset
      : current === undefined;
    if (!holds) throw new LedgerConflictError(`condition failed for ${key}`);
    // As DynamoDB's UpdateItem: skipped ranges, naming and topic id not given are left as they are.
    this.entries.set(key, {
      ...(current?.skippedRanges ? { skippedRanges: current.skippedRanges } : {}),
      ...(current?.naming !== undefined ? { naming: current.naming } : {}),
      ...(current?.topicId !== undefined ? { topicId: current.topicId } : {}),
      ...next,
    });
  }

  async declareNaming(expected: LedgerPosition | undefined, declaration: NamingDeclaration): Promise<void> {
    this.writes += 1;
    const key = `${declaration.topic}/${declaration.partition}`;
    const current = this.entries.get(key);
    if (expected === undefined) {
      if (current !== undefined) throw new LedgerConflictError(`condition failed for ${key}`);
      this.entries.set(key, declaredEntry(declaration));
      return;
    }
    const holds =
      current !== undefined &&
      current.generation === expected.generation &&
      current.committedOffset === expected.committedOffset &&
      current.naming === declaration.previous;
    if (!holds) throw new LedgerConflictError(`condition failed for ${key}`);
    this.entries.set(key, { ...current, naming: declaration.naming });
  }

  /** What an operator's reset does: a new generation starting after `committedOffset` (the topic id cleared). */
  reset(topic: string, partition: number, committedOffset: number): void {
    const key = `${topic}/${partition}`;
    const generation = (this.entries.get(key)?.generation ?? 0) + 1;
    this.entries.set(key, {
      topic,
      partition,
      generation,
      committedOffset,
      lastObjectKey: null,
      lastRecordCount: 0,
      updatedAt: new Date(0).toISOString(),
    });
  }
}

/** An in-memory object store with S3's `If-None-Match: *` semantics. */
export class MemoryObjectStore implements ObjectStore {
  readonly objects = new Map<string, NewObject>();
  puts = 0;
  heads = 0;

  async putIfAbsent(object: NewObject): Promise<void> {
    this.puts += 1;
    if (this.objects.has(object.key)) throw new ObjectExistsError(object.key);
    this.objects.set(object.key, { ...object, body: new Uint8Array(object.body) });
  }

  async head(key: string): Promise<StoredObjectHead | undefined> {
    this.heads += 1;
    const object = this.objects.get(key);
    if (!object) return undefined;
    // S3 stores user metadata names lower-cased, and the port promises them so (lib/core/ports.ts).
    const metadata = Object.fromEntries(Object.entries(object.metadata).map(([name, value]) => [name.toLowerCase(), value]));
    return { key, size: object.body.byteLength, metadata };
  }
}

/** A clock that only moves when told to. */
export class ManualClock implements Clock {
  constructor(public time = Date.UTC(2026, 10, 26)) {}
  now(): number {
    return this.time;
  }
}
