/**
 * The scheduled manifest writer's run for one topic (functions/manifest-writer): incremental and
 * bounded per run, writing the same manifests, byte for byte, as `writeDueManifests` in
 * manifest.ts. Its state between runs is state.ts.
 */
import { Buffer } from 'node:buffer';
import type { Layout } from '../layout/layout.ts';
import { parseObjectName, topicPrefix } from '../layout/naming.ts';
import { fromMetadata } from '../layout/object-metadata.ts';
import type { ManifestStateStore, ObjectStore } from '../core/ports.ts';
import type { AuditedLedgerEntry } from '../ledger/admin.ts';
import type { Inventory } from '../aws/s3-inventory.ts';
import {
  directoryWindow,
  MANIFEST_NAME,
  MANIFEST_STATE_NAME,
  manifestLayoutProblem,
  manifestOf,
  manifestPartition,
  type ManifestPlan,
  writeManifests,
} from './manifest.ts';
import { listingStart, listNewObjects, pathsSortByTime, pickRoundRobin } from './new-objects.ts';
import { type ManifestState, type PartitionCursor, parseState } from './state.ts';

/** Default cap on the objects the scheduled writer examines (HEADs) per topic and run. */
export const DEFAULT_MANIFEST_MAX_OBJECTS = 10_000;
/** Default cap on the objects held in open (not yet complete) directories of the state. */
export const DEFAULT_MANIFEST_MAX_OPEN_OBJECTS = 50_000;

/** What `advanceManifests` did for one topic. */
export interface ManifestRunResult {
  readonly written: readonly string[];
  /** Due manifests that were already there (412). */
  readonly existing: readonly string[];
  readonly pending: ManifestPlan['pending'];
  /** Objects examined (HEAD) in this run. */
  readonly examined: number;
  /** Objects found beyond the cursors but left for the next run (the per-run cap). */
  readonly backlog: number;
  /** Directories this run cannot write a manifest for (see `advanceManifests`), with why. */
  readonly skipped: ReadonlyArray<{ readonly path: string; readonly reason: string }>;
  /** Partitions stopped at an object whose metadata cannot be read, with the problem. */
  readonly problems: ReadonlyArray<{ readonly key: string; readonly problem: string }>;
  /** False when another run saved the state first (this run's progress is redone next time). */
  readonly stateSaved: boolean;
  /** Why the state was started over (none, unreadable, other settings), or undefined. */
  readonly restarted: string | undefined;
}

/** Runs `work` over `items`, `concurrency` at a time, results in order. */
async function pool<T, R>(items: readonly T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, items.length)) }, worker));
  return results;
}

/**
 * The scheduled manifest writer's job for one topic, incremental: it writes the same manifests,
 * byte for byte, as `writeDueManifests` (which reads every object each time), but examines only
 * the objects written since its last run, at most `maxObjects` of them per run.
 *
 * It keeps a cursor per partition in a small state object (`MANIFEST_STATE_NAME`, saved with
 * If-Match / If-None-Match so overlapping runs cannot lose progress): the chain offset walked,
 * the watermark, the watermark's recent rises, and the directories seen but not complete yet with
 * their objects and cuts. Each run lists the topic from the oldest directory still needed (when
 * directory paths sort in time order; else the whole topic, still HEADing only new objects),
 * HEADs the objects past each partition's cursor up to the committed offset (round robin over
 * partitions up to the cap; the rest is `backlog`, for the next run), and writes the directories
 * every partition has passed.
 *
 * A directory seen for the first time after every partition had already passed its end + grace
 * before this run holds only late data: it gets no manifest from this job (`skipped`; the
 * `manifest` command, which reads everything, writes one listing no object), as does one whose
 * cuts were forgotten (after a ledger reset).
 */
export async function advanceManifests(input: {
  readonly inventory: Inventory;
  readonly ledger: { list(filter: { readonly topic?: string }): Promise<AuditedLedgerEntry[]> };
  readonly store: ObjectStore;
  readonly stateStore: ManifestStateStore;
  readonly prefix: string;
  readonly topic: string;
  readonly layout: Layout;
  readonly partitions?: number | undefined;
  readonly graceMs?: number | undefined;
  /** Objects examined per run at most (default `DEFAULT_MANIFEST_MAX_OBJECTS`). */
  readonly maxObjects?: number | undefined;
  /** Objects held in open directories at most (default `DEFAULT_MANIFEST_MAX_OPEN_OBJECTS`): past it, the walk waits. */
  readonly maxOpenObjects?: number | undefined;
  readonly concurrency?: number;
}): Promise<ManifestRunResult> {
  const { layout, topic, inventory } = input;
  const problem = manifestLayoutProblem(layout);
  if (problem) throw new TypeError(problem);
  const grace = input.graceMs ?? 0;
  const maxObjects = input.maxObjects ?? DEFAULT_MANIFEST_MAX_OBJECTS;
  const maxOpen = input.maxOpenObjects ?? DEFAULT_MANIFEST_MAX_OPEN_OBJECTS;
  const base = topicPrefix(input.prefix, topic);
  const stateKey = `${base}${MANIFEST_STATE_NAME}`;
  const settings = JSON.stringify({ layout: layout.settings, graceMs: grace });

  const [loaded, allEntries] = await Promise.all([input.stateStore.load(stateKey), input.ledger.list({ topic })]);
  let restarted: string | undefined = loaded ? undefined : 'none';
  let state: ManifestState = { version: 1, topic, settings, partitions: {}, open: {} };
  if (loaded) {
    const parsed = parseState(loaded.body, topic, settings);
    if (typeof parsed === 'string') restarted = parsed;
    else state = parsed;
  }
  const entries = new Map(allEntries.filter((e) => e.topic === topic).map((e) => [e.partition, e]));
  const ids = new Set(entries.keys());
  for (let p = 0; p < (input.partitions ?? 0); p++) ids.add(p);

  // Cursors: a new partition, generation or reset starts its chain over (and forgets what its
  // old chain contributed to open directories: a replay does not rewrite written manifests).
  const cursors = new Map<number, PartitionCursor>();
  for (const [partition, entry] of entries) {
    const saved = state.partitions[partition];
    if (saved && saved.generation === entry.generation && saved.resets === entry.resets.length) {
      cursors.set(partition, saved);
      continue;
    }
    cursors.set(partition, {
      generation: entry.generation,
      resets: entry.resets.length,
      offset: entry.resets.at(-1)?.toOffset ?? -1,
      watermark: null,
      steps: [],
    });
    for (const directory of Object.values(state.open)) {
      delete directory.cuts[partition];
      delete directory.objects[partition];
    }
  }
  const open = new Map(Object.entries(state.open));
  const minWatermark = () => {
    let min = Infinity;
    for (const cursor of cursors.values()) min = Math.min(min, cursor.watermark ?? -Infinity);
    return cursors.size === 0 ? -Infinity : min;
  };
  const passedBefore = minWatermark();

  // List from the oldest directory still needed: an open one, or the one holding the time every
  // partition has passed (minus grace); older directories can only receive late data.
  const startAfter = pathsSortByTime(layout)
    ? listingStart({ layout, base, topic, cursors, open, passed: passedBefore - grace })
    : undefined;
  const candidates = await listNewObjects({ inventory, base, startAfter, topic, cursors, entries });

  // Round robin over partitions up to the cap, so that a partition far behind still advances.
  let openObjects = 0;
  for (const directory of open.values()) for (const list of Object.values(directory.objects)) openObjects += list.length;
  const budget = Math.max(0, Math.min(maxObjects, maxOpen - openObjects));
  const { chosen, order, total } = pickRoundRobin(candidates, budget);
  const flat = [...chosen.values()].flat();
  const heads = await pool(flat, input.concurrency ?? 32, async ({ key }) => {
    try {
      const metadata = await inventory.head(key);
      return metadata === undefined ? 'listed but gone' : fromMetadata(key, metadata);
    } catch (error) {
      return (error as Error).message;
    }
  });
  const descriptors = new Map(flat.map((item, i) => [item.key, heads[i]!]));

  const problems: Array<{ key: string; problem: string }> = [];
  const skipped: Array<{ path: string; reason: string }> = [];
  /** Directories this run decided to leave alone (manifest already there, late, forgotten). */
  const closed = new Set<string>();
  let examined = 0;
  const cutOf = (cursor: PartitionCursor | undefined, threshold: number) =>
    cursor?.steps.find(([, watermark]) => watermark >= threshold)?.[0];
  for (const partition of order) {
    const cursor = cursors.get(partition)!;
    const entry = entries.get(partition)!;
    for (const { key } of chosen.get(partition) ?? []) {
      const d = descriptors.get(key)!;
      if (
        typeof d === 'string' ||
        d.firstOffset !== parseObjectName(key.slice(key.lastIndexOf('/') + 1))!.firstOffset ||
        d.generation !== cursor.generation
      ) {
        problems.push({ key, problem: typeof d === 'string' ? d : 'its metadata contradicts its key' });
        break;
      }
      if (d.lastOffset > entry.committedOffset) break;
      examined += 1;
      // Not on the chain: an object overlapping what the chain already covers (the listing may
      // skip old directories, so a chain link can be missing, but never run backwards).
      if (d.afterOffset < cursor.offset) continue;
      const path = key.slice(base.length, key.lastIndexOf('/'));
      if (d.recordCount > 0 && d.minTimestamp !== undefined && !open.has(path) && !closed.has(path)) {
        const window = directoryWindow(layout, topic, partition, d.minTimestamp);
        const threshold = window.end + grace;
        if (threshold <= passedBefore) {
          closed.add(path);
          skipped.push({ path, reason: 'only late data: every partition had passed it before its first object was seen' });
        } else if ((await inventory.head(`${base}${path}/${MANIFEST_NAME}`)) !== undefined) {
          closed.add(path);
        } else {
          const cuts: Record<string, number> = {};
          let forgotten = false;
          for (const id of ids) {
            const other = cursors.get(id);
            const cut = cutOf(other, threshold);
            if (cut !== undefined) cuts[id] = cut;
            else if (other?.watermark != null && other.watermark >= threshold) forgotten = true;
          }
          if (forgotten) {
            closed.add(path);
            skipped.push({ path, reason: 'a partition passed it before a ledger reset made the writer start over' });
          } else {
            open.set(path, { start: window.start, end: window.end, cuts, objects: {} });
          }
        }
      }
      const directory = open.get(path);
      if (directory && directory.cuts[partition] === undefined) {
        (directory.objects[partition] ??= []).push({
          key,
          firstOffset: d.firstOffset,
          lastOffset: d.lastOffset,
          recordCount: d.recordCount,
        });
      }
      cursor.offset = d.lastOffset;
      if (d.maxTimestamp !== undefined && (cursor.watermark === null || d.maxTimestamp > cursor.watermark)) {
        cursor.watermark = d.maxTimestamp;
        cursor.steps.push([d.lastOffset, d.maxTimestamp]);
        for (const other of open.values()) {
          if (other.cuts[partition] === undefined && d.maxTimestamp >= other.end + grace) other.cuts[partition] = d.lastOffset;
        }
      }
    }
  }
  const backlog = total - examined;

  // Write every directory all partitions have passed, oldest first.
  const due: Array<ManifestPlan['manifests'][number]> = [];
  const pending: Array<ManifestPlan['pending'][number]> = [];
  for (const [path, directory] of [...open].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const waitingFor = [...ids].filter((id) => directory.cuts[id] === undefined).sort((a, b) => a - b);
    if (waitingFor.length > 0) {
      pending.push({ path, waitingFor });
      continue;
    }
    const partitions = [...ids]
      .sort((a, b) => a - b)
      .map((partition) => {
        const objects = (directory.objects[partition] ?? []).filter((o) => o.lastOffset <= directory.cuts[partition]!);
        return manifestPartition(partition, entries.get(partition)?.generation ?? 0, directory.cuts[partition]!, objects);
      });
    due.push(manifestOf({ base, topic, path, window: directory, grace, partitions }));
  }
  const { written, existing } = await writeManifests(input.store, { manifests: due, pending });
  for (const manifest of due) open.delete(manifest.document.path);

  // Forget watermark rises no directory found later can need (see PartitionCursor.steps).
  const passedAfter = minWatermark();
  for (const cursor of cursors.values()) cursor.steps = cursor.steps.filter(([, watermark]) => watermark > passedAfter);
  const next: ManifestState = {
    version: 1,
    topic,
    settings,
    partitions: Object.fromEntries([...cursors].sort(([a], [b]) => a - b)),
    open: Object.fromEntries(open),
  };
  const stateSaved = await input.stateStore.save(stateKey, Buffer.from(JSON.stringify(next), 'utf8'), loaded?.etag);
  return { written, existing, pending, examined, backlog, skipped, problems, stateSaved, restarted };
}
