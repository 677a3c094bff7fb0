/**
 * Merging a run into one object without recompression: gzip members and zstd frames may follow
 * one another in one file (RFC 1952 §2.2; the zstd format, "Frames"), and every reader decodes
 * them as one stream; a JSON Lines or raw-bytes body ends each record with its separator, so the
 * decoded bodies join into one body. The compacted object is therefore the staged objects' bytes
 * end to end, and its size their sum.
 */
import { objectKey, parseObjectName } from '../layout/naming.ts';
import { fromMetadata, toMetadata } from '../layout/object-metadata.ts';
import { StagedChainError } from './errors.ts';
import type { CompactionCursor, StagedObject, StagingStore } from './ports.ts';
import type { PlannedRun } from './plan.ts';

/**
 * Formats whose bodies concatenate into a valid body: every record ends with its separator.
 * Parquet does not (one footer per file): it is for a later slice to write Parquet at compaction
 * from staged JSON Lines.
 */
export const CONCATENABLE_FORMATS: ReadonlySet<string> = new Set(['jsonl', 'raw']);

/**
 * A staged object from what a listing and a HEAD tell of it. Undefined when the key is not a
 * sink object's name under `{stagingPrefix}{topic}/` (another tool's file); throws
 * `CorruptObjectError` when its metadata is missing or malformed, as the delivery protocol does.
 */
export function stagedObjectOf(
  stagingPrefix: string,
  object: {
    readonly key: string;
    readonly size: number;
    readonly stagedAt: number;
    readonly contentType: string | undefined;
    readonly metadata: Readonly<Record<string, string>>;
  },
): StagedObject | undefined {
  if (!object.key.startsWith(stagingPrefix)) return undefined;
  const rest = object.key.slice(stagingPrefix.length);
  const slash = rest.indexOf('/');
  const lastSlash = rest.lastIndexOf('/');
  if (slash < 0 || lastSlash === slash) return undefined;
  const name = parseObjectName(rest.slice(lastSlash + 1));
  if (!name || rest.slice(0, slash) !== name.topic) return undefined;
  const descriptor = fromMetadata(object.key, object.metadata);
  return {
    key: object.key,
    size: object.size,
    stagedAt: object.stagedAt,
    path: rest.slice(slash + 1, lastSlash),
    extension: name.extension,
    contentType: object.contentType,
    descriptor,
  };
}

/** The compacted object's key: the handler's naming under the sink prefix, from the run's first offset. */
export function compactedKey(sinkPrefix: string, run: PlannedRun): string {
  const first = run.objects[0]!;
  const d = first.descriptor;
  return objectKey({
    prefix: sinkPrefix,
    topic: d.topic,
    partition: d.partition,
    generation: d.generation,
    firstOffset: d.firstOffset,
    extension: first.extension,
    path: first.path,
  });
}

/**
 * The compacted object's metadata: the same fields as a handler's object, so that `verify` walks
 * the sink prefix's chain as it walks the staged one. `after-offset` is the cursor the run
 * continues (equal to its first staged object's), so it is a function of the key, as the protocol
 * requires for adoption.
 */
export function compactedMetadata(run: PlannedRun): Record<string, string> {
  const first = run.objects[0]!.descriptor;
  const last = run.objects.at(-1)!.descriptor;
  const times = (pick: 'minTimestamp' | 'maxTimestamp') =>
    run.objects.map((o) => o.descriptor[pick]).filter((t): t is number => t !== undefined);
  const mins = times('minTimestamp');
  const maxes = times('maxTimestamp');
  return toMetadata({
    topic: first.topic,
    partition: first.partition,
    generation: first.generation,
    afterOffset: first.afterOffset,
    firstOffset: first.firstOffset,
    lastOffset: last.lastOffset,
    recordCount: run.objects.reduce((sum, o) => sum + o.descriptor.recordCount, 0),
    minTimestamp: mins.length > 0 ? Math.min(...mins) : undefined,
    maxTimestamp: maxes.length > 0 ? Math.max(...maxes) : undefined,
    format: first.format,
    formatVersion: first.formatVersion,
  });
}

/**
 * Checks that a run can be merged by concatenation and continues from `cursor`: a concatenable
 * format, one directory, extension and format throughout, each object continuing from the one
 * before. Throws `StagedChainError` naming the object at fault.
 */
export function checkRun(run: PlannedRun, cursor: CompactionCursor): void {
  const first = run.objects[0]!;
  const where = { topic: first.descriptor.topic, partition: first.descriptor.partition };
  if (!CONCATENABLE_FORMATS.has(first.descriptor.format)) {
    throw new StagedChainError(
      where,
      `${first.key} is in format "${first.descriptor.format}", which cannot be merged by concatenation (only ${[...CONCATENABLE_FORMATS].join(', ')})`,
    );
  }
  let after = cursor.offset;
  for (const object of run.objects) {
    const d = object.descriptor;
    if (d.generation !== cursor.generation || d.afterOffset !== after) {
      throw new StagedChainError(
        where,
        `${object.key} (generation ${d.generation}) does not continue from offset ${after} of generation ${cursor.generation}`,
      );
    }
    if (object.path !== first.path || object.extension !== first.extension || d.format !== first.descriptor.format) {
      throw new StagedChainError(where, `${object.key} is in another directory or format than ${first.key}: a run never spans two`);
    }
    after = d.lastOffset;
  }
}

/**
 * The run's bytes, object after object, streamed (memory stays one chunk, whatever the target).
 * The staging store throws `StagedObjectMissingError` when an object is gone; this throws `StagedChainError` when one holds
 * other than its listed size (it was replaced: staged objects are immutable, so something outside
 * the protocol wrote it). Either makes the write abort, creating nothing.
 */
export async function* concatenate(staging: StagingStore, run: PlannedRun): AsyncGenerator<Uint8Array> {
  for (const object of run.objects) {
    let size = 0;
    for await (const chunk of staging.open(object.key)) {
      size += chunk.byteLength;
      yield chunk;
    }
    if (size !== object.size) {
      const d = object.descriptor;
      throw new StagedChainError(
        { topic: d.topic, partition: d.partition },
        `${object.key} holds ${size} bytes, its listing said ${object.size}: it changed after it was listed`,
      );
    }
  }
}
