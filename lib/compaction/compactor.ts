/**
 * The compactor: merges a topic-partition's committed staged objects into large objects under
 * the sink prefix, exactly once (docs/compaction.md). One pass per run:
 *
 *   R  read the cursor and the ledger (strongly consistent);
 *   L  list the staged objects; delete those the cursor passed (garbage);
 *   P  follow the chain from the cursor up to the committed offset; pick a contiguous run;
 *   W  create `key(g, run's first offset)` under the sink prefix with `If-None-Match: *`, its body
 *      the staged bodies end to end (streamed);
 *   W′ on 412: the object any compactor at this cursor made: check it is a run of this chain, adopt its end;
 *   A  advance the cursor to the run's last offset, conditional on the cursor read at R;
 *   D  delete the run's staged objects.
 *
 * Invariant: the cursor moves only over offsets whose records are in one durable compacted
 * object, continuing the sink prefix's chain; staged objects are deleted only once the cursor has
 * passed them. Whatever the compactor finds changed under it (a cursor moved, a staged object
 * gone, a 412 for a longer run), it starts the pass again from R.
 */
import { CorruptObjectError, ObjectExistsError } from '../core/errors.ts';
import { fromMetadata } from '../layout/object-metadata.ts';
import type { StoredObjectHead } from '../core/ports.ts';
import { CursorConflictError, StagedChainError, StagedObjectMissingError } from './errors.ts';
import { checkRun, compactedKey, compactedMetadata, concatenate } from './merge.ts';
import { chainFrom, garbageOf, isRun, planRun, type Waiting } from './plan.ts';
import type { CompactionCursor, CompactionPorts, PartitionProgress, StagedObject } from './ports.ts';
import type { CompactionSettings } from './settings.ts';

/** What one call did to one topic-partition. */
export interface PartitionCompactionReport {
  readonly topic: string;
  readonly partition: number;
  /** Compacted objects this call created, in offset order. */
  readonly written: readonly string[];
  /** Compacted objects found already created (412) and adopted: a concurrent or a dead compactor's. */
  readonly adopted: readonly string[];
  /** Staged objects deleted (compacted runs and garbage). */
  readonly deleted: number;
  /** The cursor when the call ended (undefined: the partition has no ledger entry). */
  readonly cursor: CompactionCursor | undefined;
  /** Set when the call ended waiting for a run to fill or come due. */
  readonly waiting?: Waiting;
}

/** Bounds of one call. */
export interface CompactOptions {
  /** Stop after this many runs (default: until nothing is ready). */
  readonly maxRuns?: number;
}

/** Passes that find the state changed under them before giving up: each is another compactor's progress. */
const MAX_RESTARTS = 100;

/** Which part of the cursor's generation is the compactor's to compact. */
interface Scope {
  /** The chain is linked (committed) up to here. */
  readonly end: number;
  /** Records at or below this are current. */
  readonly currentUpTo: number;
  /** For a superseded generation: where the cursor goes once it is compacted. */
  readonly next: CompactionCursor | undefined;
}

function scopeOf(topic: string, partition: number, progress: PartitionProgress, cursor: CompactionCursor): Scope {
  if (cursor.generation === progress.generation) {
    return { end: progress.committedOffset, currentUpTo: progress.committedOffset, next: undefined };
  }
  const old = progress.superseded.find((g) => g.generation === cursor.generation);
  if (!old) {
    throw new StagedChainError(
      { topic, partition },
      `the compaction cursor is in generation ${cursor.generation}, which the ledger neither is in (${progress.generation}) nor records as superseded`,
    );
  }
  return { end: old.end, currentUpTo: old.currentUpTo, next: old.next };
}

const sameCursor = (a: CompactionCursor | undefined, b: CompactionCursor | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.generation === b.generation && a.offset === b.offset);

/** Compacts one topic-partition as far as runs are ready; see the module comment for the steps. */
export async function compactPartition(
  topic: string,
  partition: number,
  settings: CompactionSettings,
  ports: CompactionPorts,
  options: CompactOptions = {},
): Promise<PartitionCompactionReport> {
  const written: string[] = [];
  const adopted: string[] = [];
  let deleted = 0;
  let runs = 0;
  let restarts = 0;
  let cursor: CompactionCursor | undefined;
  const report = (waiting?: Waiting): PartitionCompactionReport => ({
    topic,
    partition,
    written,
    adopted,
    deleted,
    cursor,
    ...(waiting ? { waiting } : {}),
  });
  const where = { topic, partition };
  const deleteAll = async (objects: readonly StagedObject[]): Promise<void> => {
    for (const object of objects) {
      await ports.staging.delete(object.key);
      deleted++;
    }
  };
  /** Whether the stored cursor is no longer `expected`: another compactor moved on, so start again. */
  const moved = async (expected: CompactionCursor | undefined): Promise<boolean> => {
    const now = await ports.cursor.read(topic, partition);
    if (sameCursor(now?.cursor, expected)) return false;
    if (++restarts > MAX_RESTARTS)
      throw new StagedChainError(where, `the cursor kept moving under this compactor (${MAX_RESTARTS} passes)`);
    return true;
  };

  while (runs < (options.maxRuns ?? Number.POSITIVE_INFINITY)) {
    // R
    const progress = await ports.cursor.read(topic, partition);
    if (!progress) return report();
    const expected = progress.cursor;
    const at = expected ?? progress.initialCursor;
    cursor = at;
    const scope = scopeOf(topic, partition, progress, at);

    // L
    const staged = await ports.staging.list(topic, partition);
    await deleteAll(garbageOf(staged, at));

    // P
    if (scope.next && at.offset >= scope.currentUpTo) {
      // A superseded generation is compacted as far as it is current: go on in the next one.
      if (await advance(expected, scope.next, null)) cursor = scope.next;
      continue;
    }
    const { chain, forks } = chainFrom(staged, at, scope.end);
    const reached = chain.at(-1)?.descriptor.lastOffset ?? at.offset;
    const needed = scope.next ? scope.currentUpTo : scope.end;
    if (forks.length > 0 || reached < needed) {
      if (await moved(expected)) continue;
      throw new StagedChainError(
        where,
        forks.length > 0
          ? `${forks.map((o) => o.key).join(' and ')} both continue from offset ${reached} of generation ${at.generation}`
          : `no staged object continues from offset ${reached} of generation ${at.generation}, but the ledger committed up to ${needed}`,
      );
    }
    const eligible = scope.next ? chain.filter((o) => o.descriptor.firstOffset <= scope.currentUpTo) : chain;
    if (eligible.length === 0) {
      if (!scope.next) return report();
      if (await advance(expected, scope.next, null)) cursor = scope.next;
      continue;
    }
    const plan = planRun(eligible, settings, ports.clock.now(), scope.next !== undefined);
    if (!isRun(plan)) return report(plan);
    checkRun(plan, at);

    // W, W′
    const key = compactedKey(settings.sinkPrefix, plan);
    let last = plan.objects.at(-1)!.descriptor.lastOffset;
    try {
      await ports.sink.create({
        key,
        contentType: plan.objects[0]!.contentType,
        metadata: compactedMetadata(plan),
        body: concatenate(ports.staging, plan),
      });
      written.push(key);
    } catch (error) {
      if (error instanceof StagedObjectMissingError) {
        if (await moved(expected)) continue;
        throw error;
      }
      if (!(error instanceof ObjectExistsError)) throw error;
      // Done already, by a compactor that also moved the cursor on: nothing to adopt here.
      if (await moved(expected)) continue;
      const head = await ports.sink.head(key);
      if (!head) continue; // sink objects are never deleted; an operator's prune: plan again
      const end = adoptable(key, head, at, chain);
      if (end === undefined) {
        // A run reaching past the chain as this pass read it: its compactor read the ledger later.
        if (++restarts > MAX_RESTARTS) throw new CorruptObjectError(key, 'it reaches past the committed staged chain');
        continue;
      }
      last = end;
      adopted.push(key);
    }

    // A
    const next = { generation: at.generation, offset: last };
    if (!(await advance(expected, next, key))) continue;
    cursor = next;
    runs++;

    // D
    await deleteAll(chain.filter((o) => o.descriptor.lastOffset <= last));
  }
  return report();

  /** Moves the cursor from `expected`; false when another writer moved it first (the next pass reads it). */
  async function advance(expected: CompactionCursor | undefined, next: CompactionCursor, key: string | null): Promise<boolean> {
    try {
      await ports.cursor.advance(topic, partition, expected, {
        ...next,
        lastObjectKey: key,
        updatedAt: new Date(ports.clock.now()).toISOString(),
      });
      return true;
    } catch (error) {
      if (!(error instanceof CursorConflictError)) throw error;
      if (++restarts > MAX_RESTARTS) throw error;
      return false;
    }
  }
}

/**
 * The last offset of the compacted object found at a run's key, when it is one a compactor at
 * this cursor made: same topic, partition and generation, continuing from the cursor, starting at
 * the chain's first object, ending at the end of one of the chain's objects, with the records and
 * bytes of the chain up to there, all in one directory. Undefined when it ends past the chain as
 * read (read again); `CorruptObjectError` for anything else: adopting it could move the cursor
 * over records the sink prefix does not hold.
 */
function adoptable(key: string, head: StoredObjectHead, cursor: CompactionCursor, chain: readonly StagedObject[]): number | undefined {
  const found = fromMetadata(key, head.metadata);
  const first = chain[0]!;
  const d = first.descriptor;
  const wrong = (reason: string): never => {
    throw new CorruptObjectError(key, `it is not a compacted run of the staged chain: ${reason}`);
  };
  if (found.topic !== d.topic || found.partition !== d.partition || found.generation !== cursor.generation) {
    wrong(`it is of ${found.topic}-${found.partition} generation ${found.generation}`);
  }
  if (found.afterOffset !== cursor.offset || found.firstOffset !== d.firstOffset) {
    wrong(`it continues from offset ${found.afterOffset} at ${found.firstOffset}, the cursor is at ${cursor.offset}`);
  }
  if (found.format !== d.format || found.formatVersion !== d.formatVersion) wrong(`its format is ${found.format} ${found.formatVersion}`);
  let records = 0;
  let bytes = 0;
  for (const object of chain) {
    if (object.path !== first.path) break;
    records += object.descriptor.recordCount;
    bytes += object.size;
    if (object.descriptor.lastOffset === found.lastOffset) {
      if (found.recordCount !== records || head.size !== bytes) {
        wrong(`it holds ${found.recordCount} records in ${head.size} bytes, the staged objects up to its end ${records} in ${bytes}`);
      }
      return found.lastOffset;
    }
    if (object.descriptor.lastOffset > found.lastOffset) break;
  }
  if (found.lastOffset > (chain.at(-1)?.descriptor.lastOffset ?? cursor.offset)) return undefined;
  return wrong(`its last offset ${found.lastOffset} is not the end of a staged object in ${first.path}`);
}
