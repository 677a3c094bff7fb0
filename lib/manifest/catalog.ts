import { parseObjectName, topicPrefix } from '../layout/naming.ts';
import { fromMetadata, type ObjectDescriptor } from '../layout/object-metadata.ts';
import type { AuditedLedgerEntry } from '../ledger/admin.ts';
import type { Inventory } from '../aws/s3-inventory.ts';

/** A sink object found under the prefix, with what its metadata says (or why it cannot be read). */
export interface CatalogedObject {
  readonly key: string;
  readonly size: number;
  readonly topic: string;
  readonly partition: number;
  readonly generation: number;
  readonly firstOffset: number;
  /** Undefined when the metadata is missing or malformed: see `problem`. */
  readonly descriptor: ObjectDescriptor | undefined;
  readonly problem: string | undefined;
}

/** Progress of a long scan: objects done out of objects found so far. */
export type Progress = (done: number, found: number) => void;

/**
 * Lists the sink objects of a topic (or of every topic) under `prefix`, whatever the layout, and
 * reads each object's metadata, `concurrency` HEADs at a time. Keys that are not sink objects are
 * ignored.
 */
export async function catalog(
  inventory: Inventory,
  options: {
    readonly prefix: string;
    readonly topic?: string;
    readonly partition?: number;
    readonly concurrency?: number;
    readonly onProgress?: Progress;
  },
): Promise<CatalogedObject[]> {
  // Every layout keeps a topic's objects under `{prefix}{topic}/` (lib/layout/layout.ts); the
  // directories below depend on the partitioner, so the file name alone says what an object is.
  const listPrefix = options.topic === undefined ? options.prefix : topicPrefix(options.prefix, options.topic);
  const found: Array<{ key: string; size: number; name: NonNullable<ReturnType<typeof parseObjectName>> }> = [];
  for await (const object of inventory.list(listPrefix)) {
    const name = parseObjectName(object.key.slice(object.key.lastIndexOf('/') + 1));
    if (!name) continue;
    if (options.topic !== undefined && name.topic !== options.topic) continue;
    if (options.partition !== undefined && name.partition !== options.partition) continue;
    found.push({ ...object, name });
  }
  const results: CatalogedObject[] = new Array(found.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < found.length) {
      const index = next++;
      const { key, size, name } = found[index]!;
      let descriptor: ObjectDescriptor | undefined;
      let problem: string | undefined;
      try {
        const metadata = await inventory.head(key);
        if (metadata === undefined) problem = 'listed but gone';
        else descriptor = fromMetadata(key, metadata);
      } catch (error) {
        // A HEAD's error has no body: the status is what says what happened.
        const e = error as Error & { $metadata?: { httpStatusCode?: number } };
        const status = e.$metadata?.httpStatusCode;
        const detail = e.name === 'Unknown' || e.message === 'UnknownError' ? '' : ` (${e.name}: ${e.message})`;
        problem =
          status === undefined
            ? `its metadata cannot be read: ${e.name}: ${e.message}`
            : `its metadata cannot be read: HEAD answered HTTP ${status}${detail}`;
      }
      if (descriptor && (descriptor.firstOffset !== name.firstOffset || descriptor.generation !== name.generation)) {
        problem = `its metadata (generation ${descriptor.generation}, first offset ${descriptor.firstOffset}) contradicts its key`;
        descriptor = undefined;
      }
      results[index] = { key, size, ...name, descriptor, problem };
      options.onProgress?.(++done, found.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 32, Math.max(1, found.length)) }, worker));
  return results;
}

/** The offsets a generation of a partition stands for. */
export interface GenerationWindow {
  readonly generation: number;
  /** The committed offset the generation started after (-1: the beginning). */
  readonly start: number;
  /** The committed offset it reached (the ledger's, for the current generation). */
  readonly end: number;
  /**
   * The last offset whose records in this generation are current: `end` for the current
   * generation; for an earlier one, where the next generation took over (a replay re-delivers
   * from its reset point, a skip starts after it).
   */
  readonly currentUpTo: number;
  readonly current: boolean;
}

/**
 * The generations of a partition, oldest first, from its ledger entry and reset history.
 *
 * The rule a reader applies: a record is current when it is in an object of generation `g` and
 * its offset lies in `(start, currentUpTo]` of `g`'s window. Everything else is superseded
 * (replayed in a later generation, or beyond what its generation committed).
 */
export function generationWindows(entry: AuditedLedgerEntry): GenerationWindow[] {
  const windows: GenerationWindow[] = [];
  let start = -1;
  let generation = entry.resets[0]?.fromGeneration ?? entry.generation;
  for (const reset of entry.resets) {
    windows.push({
      generation: reset.fromGeneration,
      start,
      end: reset.fromOffset,
      currentUpTo: Math.min(reset.fromOffset, reset.toOffset),
      current: false,
    });
    start = reset.toOffset;
    generation = reset.toGeneration;
  }
  windows.push({ generation, start, end: entry.committedOffset, currentUpTo: entry.committedOffset, current: true });
  return windows;
}
