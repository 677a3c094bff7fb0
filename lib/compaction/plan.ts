/**
 * Pure planning: which staged objects continue the compacted prefix from the cursor, which are
 * garbage, and which contiguous run to compact next (docs/compaction.md, "Picking a run").
 */
import type { CompactionCursor, StagedObject } from './ports.ts';
import type { CompactionSettings } from './settings.ts';

/**
 * The staged chain of `cursor.generation` from the cursor: the object continuing from
 * `cursor.offset` (its `after-offset`), the one continuing from that, and so on, ending at the
 * last object whose last offset is at or below `end` (the committed offset: objects beyond it are
 * not committed yet and may still be adopted by the handler). Objects of other generations,
 * garbage below the cursor and objects off the chain are left out. Two objects continuing from one
 * offset cannot come from the protocol (one key per range start); the caller gets them both in
 * `forks` and stops.
 */
export function chainFrom(
  objects: readonly StagedObject[],
  cursor: CompactionCursor,
  end: number,
): { readonly chain: readonly StagedObject[]; readonly forks: readonly StagedObject[] } {
  const byAfter = new Map<number, StagedObject[]>();
  for (const object of objects) {
    const d = object.descriptor;
    if (d.generation !== cursor.generation || d.afterOffset < cursor.offset || d.lastOffset > end) continue;
    const same = byAfter.get(d.afterOffset);
    if (same) same.push(object);
    else byAfter.set(d.afterOffset, [object]);
  }
  const chain: StagedObject[] = [];
  for (let at = cursor.offset; ; ) {
    const next = byAfter.get(at);
    if (!next) return { chain, forks: [] };
    if (next.length > 1) return { chain, forks: next };
    chain.push(next[0]!);
    at = next[0]!.descriptor.lastOffset;
  }
}

/**
 * Staged objects the cursor has passed: every object of an older generation (the cursor moves
 * to a generation only once the one before is compacted as far as it is current), and every
 * object of the cursor's generation that starts at or below it. The chain above the cursor starts
 * above it (its first object continues from the cursor), so none of these is on it: their records
 * are in the sink prefix or superseded by a replay. Besides what a crash left before D, this is
 * what a dead handler's late write, or a stale handler (one that read the ledger before the
 * compactor deleted the key it aims at), creates after the deletion, whatever its range.
 */
export function garbageOf(objects: readonly StagedObject[], cursor: CompactionCursor): StagedObject[] {
  return objects.filter(
    (o) =>
      o.descriptor.generation < cursor.generation ||
      (o.descriptor.generation === cursor.generation && o.descriptor.firstOffset <= cursor.offset),
  );
}

/** Why a run is compacted now. */
export const RunReason = {
  /** Adding the next staged object would pass the target (or the run reached it). */
  full: 'full',
  /** The next staged object is in another directory or format: the run cannot grow. */
  closed: 'closed',
  /** Its oldest staged object has waited `maxDelayMs`. */
  due: 'due',
  /** The rest of a generation a reset superseded: it will never grow. */
  superseded: 'superseded',
} as const;
export type RunReason = (typeof RunReason)[keyof typeof RunReason];

/** A contiguous run of the chain to merge into one compacted object. */
export interface PlannedRun {
  /** At least one object, in chain order, all in one directory and one format. */
  readonly objects: readonly StagedObject[];
  /** Their stored bytes: the compacted object's size (concatenation adds nothing). */
  readonly bytes: number;
  readonly reason: RunReason;
}

/** Why nothing is compacted now. */
export interface Waiting {
  readonly objects: number;
  readonly bytes: number;
  /** When the run becomes due (epoch ms), if nothing is staged after it meanwhile. */
  readonly dueAt: number | undefined;
}

/** Objects the concatenation can merge into one: same directory, extension, format and version, content type. */
function mergeable(a: StagedObject, b: StagedObject): boolean {
  return (
    a.path === b.path &&
    a.extension === b.extension &&
    a.contentType === b.contentType &&
    a.descriptor.format === b.descriptor.format &&
    a.descriptor.formatVersion === b.descriptor.formatVersion
  );
}

/**
 * Picks the next run from the start of `chain`: the longest prefix in one directory and format
 * whose bytes stay within the target (at least one object, even one larger than the target).
 * The run is compacted when it is full, when the chain goes on in another directory or format,
 * when `superseded` (the generation will never grow), or when its oldest object has waited the
 * maximum delay; otherwise the compactor waits for more (`Waiting`).
 *
 * Runs never span two directories: a time layout's hour stays one directory of large objects,
 * and a run's key carries the directory of its first record, as the handler's keys do.
 */
export function planRun(
  chain: readonly StagedObject[],
  settings: Pick<CompactionSettings, 'targetBytes' | 'maxDelayMs'>,
  now: number,
  superseded = false,
): PlannedRun | Waiting | undefined {
  if (chain.length === 0) return undefined;
  const first = chain[0]!;
  const objects = [first];
  let bytes = first.size;
  let oldest = first.stagedAt;
  for (const next of chain.slice(1)) {
    if (!mergeable(first, next)) return { objects, bytes, reason: RunReason.closed };
    if (bytes + next.size > settings.targetBytes) return { objects, bytes, reason: RunReason.full };
    objects.push(next);
    bytes += next.size;
    oldest = Math.min(oldest, next.stagedAt);
  }
  if (bytes >= settings.targetBytes) return { objects, bytes, reason: RunReason.full };
  if (superseded) return { objects, bytes, reason: RunReason.superseded };
  const dueAt = oldest + settings.maxDelayMs;
  if (now >= dueAt) return { objects, bytes, reason: RunReason.due };
  return { objects: objects.length, bytes, dueAt };
}

/** Whether `planRun` gave a run to compact. */
export function isRun(plan: PlannedRun | Waiting | undefined): plan is PlannedRun {
  return plan !== undefined && Array.isArray((plan as PlannedRun).objects);
}
