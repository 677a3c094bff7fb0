/**
 * Completeness markers: `_manifest.json` in a time partition's directory once every partition of
 * the topic has committed records past the partition's end, so that a downstream job can start
 * on a complete hour (or day). Deterministic and idempotent like every other object:
 *
 * - A partition's *watermark* is the largest record time (`max-timestamp`) of the objects on its
 *   ledger chain up to the committed offset. A time partition [start, end) is complete when every
 *   partition's watermark is at or past `end + graceMs`.
 * - Per partition, the manifest covers the chain up to the first object whose `max-timestamp`
 *   reaches `end + graceMs` (its *cut*): the objects of the directory on the chain up to the cut.
 *   The chain is fixed once written (objects are immutable and first-writer-wins), so whoever
 *   computes a manifest, whenever, gets the same bytes; it is created with `If-None-Match: *`,
 *   and a 412 means it is already there.
 * - Records with a time inside a completed partition that arrive after its cut (later than the
 *   grace) are still delivered to its directory, but are not in its manifest: late data.
 *
 * Needs the time partitioner with `SINK_TIMESTAMP_EXTRACTOR=Record` (objects record Kafka
 * timestamps in their metadata). Partitions that never committed anything are not known to the
 * ledger: pass `partitions` (the topic's partition count) so that they hold completeness back.
 */
import { Buffer } from 'node:buffer';
import { ConfigurationError, ObjectExistsError } from '../core/errors.ts';
import { defaultPathFormat, type Layout, parsePathFormat } from '../layout/layout.ts';
import { parseObjectName, topicPrefix } from '../layout/naming.ts';
import { fromMetadata } from '../layout/object-metadata.ts';
import type { ManifestStateStore, ObjectStore } from '../core/ports.ts';
import { catalog, type CatalogedObject, type Progress } from './catalog.ts';
import type { AuditedLedgerEntry } from '../ledger/admin.ts';
import type { Inventory } from '../aws/s3-inventory.ts';

export const MANIFEST_NAME = '_manifest.json';

export interface ManifestDocument {
  readonly topic: string;
  readonly path: string;
  /** The time partition, ISO-8601 UTC, end exclusive. */
  readonly start: string;
  readonly end: string;
  readonly graceMs: number;
  readonly partitions: ReadonlyArray<{
    readonly partition: number;
    readonly generation: number;
    /** The chain offset up to which the manifest speaks for this partition. */
    readonly completeThrough: number;
    readonly firstOffset: number | null;
    readonly lastOffset: number | null;
    readonly recordCount: number;
    readonly objects: ReadonlyArray<{
      readonly key: string;
      readonly firstOffset: number;
      readonly lastOffset: number;
      readonly recordCount: number;
    }>;
  }>;
}

/** One partition's part of a manifest. */
function manifestPartition(
  partition: number,
  generation: number,
  completeThrough: number,
  objects: readonly ManifestObject[],
): ManifestDocument['partitions'][number] {
  return {
    partition,
    generation,
    completeThrough,
    firstOffset: objects[0]?.firstOffset ?? null,
    lastOffset: objects.at(-1)?.lastOffset ?? null,
    recordCount: objects.reduce((n, o) => n + o.recordCount, 0),
    objects,
  };
}

/**
 * A manifest's key, document and bytes. The full computation and the scheduled writer's
 * incremental one both write through here, so the same directory gives the same bytes.
 */
function manifestOf(input: {
  readonly base: string;
  readonly topic: string;
  readonly path: string;
  readonly window: { readonly start: number; readonly end: number };
  readonly grace: number;
  readonly partitions: ManifestDocument['partitions'];
}): ManifestPlan['manifests'][number] {
  const document: ManifestDocument = {
    topic: input.topic,
    path: input.path,
    start: new Date(input.window.start).toISOString(),
    end: new Date(input.window.end).toISOString(),
    graceMs: input.grace,
    partitions: input.partitions,
  };
  return {
    key: `${input.base}${input.path}/${MANIFEST_NAME}`,
    body: Buffer.from(`${JSON.stringify(document, null, 2)}\n`, 'utf8'),
    document,
  };
}

export interface ManifestPlan {
  readonly manifests: ReadonlyArray<{ readonly key: string; readonly body: Uint8Array; readonly document: ManifestDocument }>;
  /** Time partitions not complete yet, with the partitions holding them back. */
  readonly pending: ReadonlyArray<{ readonly path: string; readonly waitingFor: readonly number[] }>;
}

/** Why a layout cannot have completeness markers, or undefined when it can. */
export function manifestLayoutProblem(layout: Layout): string | undefined {
  return layout.settings.partitioner === 'time' && layout.settings.timestampExtractor === 'Record'
    ? undefined
    : 'completeness markers need the time partitioner with SINK_TIMESTAMP_EXTRACTOR=Record';
}

/** Bound on the windows `directoryWindow` joins (a coarse template over a fine duration). */
const MAX_WINDOWS_PER_DIRECTORY = 100_000;

/**
 * The time span (UTC ms, end exclusive) of the directory a record time goes to: every window
 * (`partition.duration.ms`) that renders to the same path, joined. Usually one window; two where
 * a local hour occurs twice (the autumn DST change: Europe/Paris 02:00 is UTC 00:00-01:00 and
 * again 01:00-02:00, one directory), and a 25-hour local day. A manifest must wait for the end
 * of the whole directory, not of the window its first object happens to be in.
 */
export function directoryWindow(layout: Layout, topic: string, partition: number, time: number): { start: number; end: number } {
  const pathAt = (at: number) =>
    layout.route({ topic, partition, offset: 0, timestamp: at, timestampType: null, key: null, value: null, headers: [] }).path;
  const path = pathAt(time);
  let { start, end } = layout.window(time)!;
  for (let n = 0; n < MAX_WINDOWS_PER_DIRECTORY && pathAt(end) === path; n++) end = layout.window(end)!.end;
  for (let n = 0; n < MAX_WINDOWS_PER_DIRECTORY && pathAt(start - 1) === path; n++) start = layout.window(start - 1)!.start;
  return { start, end };
}

/** The manifests due for a topic, from its cataloged objects and ledger entries. */
export function planManifests(input: {
  readonly prefix: string;
  readonly topic: string;
  readonly layout: Layout;
  readonly objects: readonly CatalogedObject[];
  readonly entries: readonly AuditedLedgerEntry[];
  readonly graceMs?: number;
  /** The topic's partition count, when known: partitions without a ledger entry hold completeness back. */
  readonly partitions?: number;
}): ManifestPlan {
  const { layout, topic } = input;
  const grace = input.graceMs ?? 0;
  const problem = manifestLayoutProblem(layout);
  if (problem) throw new TypeError(problem);
  const base = topicPrefix(input.prefix, topic);
  const entries = input.entries.filter((entry) => entry.topic === topic);
  const ids = new Set(entries.map((entry) => entry.partition));
  for (let p = 0; p < (input.partitions ?? 0); p++) ids.add(p);

  // Each partition's chain in the current generation, up to the committed offset.
  const chains = new Map<number, CatalogedObject[]>();
  for (const partition of ids) {
    const entry = entries.find((e) => e.partition === partition);
    const chain: CatalogedObject[] = [];
    if (entry) {
      const own = input.objects.filter((o) => o.partition === partition && o.generation === entry.generation && o.descriptor);
      const start = entry.resets.at(-1)?.toOffset ?? -1;
      for (let cursor = start; cursor < entry.committedOffset; ) {
        const next = own.find((o) => o.descriptor!.afterOffset === cursor);
        if (!next || next.descriptor!.lastOffset > entry.committedOffset) break;
        chain.push(next);
        cursor = next.descriptor!.lastOffset;
      }
    }
    chains.set(partition, chain);
  }

  // Time partitions (directories) that hold records, with their window.
  const windows = new Map<string, { start: number; end: number }>();
  for (const chain of chains.values()) {
    for (const object of chain) {
      const d = object.descriptor!;
      if (d.recordCount === 0 || d.minTimestamp === undefined) continue;
      const path = object.key.slice(base.length, object.key.lastIndexOf('/'));
      if (!windows.has(path)) windows.set(path, directoryWindow(layout, object.topic, object.partition, d.minTimestamp));
    }
  }

  const manifests: Array<ManifestPlan['manifests'][number]> = [];
  const pending: Array<ManifestPlan['pending'][number]> = [];
  for (const [path, window] of [...windows].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const threshold = window.end + grace;
    const cuts = new Map<number, number>();
    const waitingFor: number[] = [];
    for (const [partition, chain] of chains) {
      const reached = chain.find((object) => (object.descriptor!.maxTimestamp ?? -Infinity) >= threshold);
      if (reached) cuts.set(partition, reached.descriptor!.lastOffset);
      else waitingFor.push(partition);
    }
    if (waitingFor.length > 0) {
      pending.push({ path, waitingFor: waitingFor.sort((a, b) => a - b) });
      continue;
    }
    const partitions = [...chains.keys()]
      .sort((a, b) => a - b)
      .map((partition) => {
        const cut = cuts.get(partition)!;
        const objects = chains
          .get(partition)!
          .filter((o) => o.descriptor!.lastOffset <= cut && o.key.slice(base.length, o.key.lastIndexOf('/')) === path)
          .map((o) => ({
            key: o.key,
            firstOffset: o.descriptor!.firstOffset,
            lastOffset: o.descriptor!.lastOffset,
            recordCount: o.descriptor!.recordCount,
          }));
        return manifestPartition(partition, entries.find((e) => e.partition === partition)?.generation ?? 0, cut, objects);
      });
    manifests.push(manifestOf({ base, topic, path, window, grace, partitions }));
  }
  return { manifests, pending };
}

/** Creates each manifest with `If-None-Match: *`; one already there (412) is left as it is. */
export async function writeManifests(store: ObjectStore, plan: ManifestPlan): Promise<{ written: string[]; existing: string[] }> {
  const written: string[] = [];
  const existing: string[] = [];
  for (const manifest of plan.manifests) {
    try {
      await store.putIfAbsent({ key: manifest.key, body: manifest.body, contentType: 'application/json', metadata: { kind: 'manifest' } });
      written.push(manifest.key);
    } catch (error) {
      if (!(error instanceof ObjectExistsError)) throw error;
      existing.push(manifest.key);
    }
  }
  return { written, existing };
}

/** What `writeDueManifests` did for one topic. */
export interface DueManifestsResult {
  readonly plan: ManifestPlan;
  /** Manifests created now (none on a dry run). */
  readonly written: readonly string[];
  /** Manifests due that were already there. */
  readonly existing: readonly string[];
}

/**
 * The whole job for one topic, shared by `msk-s3-sink manifest` and the scheduled manifest
 * writer (functions/manifest-writer): read the topic's ledger entries and catalog its objects,
 * plan the due manifests, and create them (unless `dryRun`). Idempotent: run it as often as you like.
 */
export async function writeDueManifests(input: {
  readonly inventory: Inventory;
  readonly ledger: { list(filter: { readonly topic?: string }): Promise<AuditedLedgerEntry[]> };
  readonly store: ObjectStore;
  readonly prefix: string;
  readonly topic: string;
  readonly layout: Layout;
  /** The topic's partition count, when known (see `planManifests`). */
  readonly partitions?: number | undefined;
  readonly graceMs?: number | undefined;
  readonly dryRun?: boolean;
  readonly onProgress?: Progress;
}): Promise<DueManifestsResult> {
  const problem = manifestLayoutProblem(input.layout);
  if (problem) throw new TypeError(problem);
  const { topic, prefix } = input;
  const [entries, objects] = await Promise.all([
    input.ledger.list({ topic }),
    catalog(input.inventory, { prefix, topic, ...(input.onProgress ? { onProgress: input.onProgress } : {}) }),
  ]);
  const plan = planManifests({
    prefix,
    topic,
    layout: input.layout,
    objects,
    entries,
    ...(input.graceMs === undefined ? {} : { graceMs: input.graceMs }),
    ...(input.partitions === undefined ? {} : { partitions: input.partitions }),
  });
  if (input.dryRun) return { plan, written: [], existing: [] };
  return { plan, ...(await writeManifests(input.store, plan)) };
}

/** The scheduled manifest writer's own settings (the layout comes from the `SINK_*` settings). */
export interface ManifestJobSettings {
  readonly topics: readonly string[];
  /** Partition counts by topic, where known. */
  readonly partitions: ReadonlyMap<string, number>;
  readonly graceMs: number | undefined;
  /** Objects examined per topic and run at most (`advanceManifests`' `maxObjects`). */
  readonly maxObjects: number | undefined;
}

/**
 * Reads `MANIFEST_TOPICS` (comma-separated), `MANIFEST_TOPIC_PARTITIONS` (`topic:count,...`),
 * `MANIFEST_GRACE_MS` and `MANIFEST_MAX_OBJECTS_PER_RUN` from an environment; every problem in
 * one `ConfigurationError`.
 */
export function loadManifestJobSettings(env: Readonly<Record<string, string | undefined>>): ManifestJobSettings {
  const problems: string[] = [];
  const list = (value: string | undefined) =>
    (value ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  const topics = list(env['MANIFEST_TOPICS']);
  if (topics.length === 0) problems.push('MANIFEST_TOPICS is required: the topics to write manifests for, comma-separated');
  const partitions = new Map<string, number>();
  for (const item of list(env['MANIFEST_TOPIC_PARTITIONS'])) {
    const colon = item.lastIndexOf(':');
    const topic = item.slice(0, colon).trim();
    const count = Number(item.slice(colon + 1).trim());
    if (colon <= 0 || !/^\d+$/.test(item.slice(colon + 1).trim()) || !Number.isSafeInteger(count) || count < 1) {
      problems.push(`MANIFEST_TOPIC_PARTITIONS: "${item}" is not topic:count (a positive partition count)`);
    } else if (!topics.includes(topic)) {
      problems.push(`MANIFEST_TOPIC_PARTITIONS: "${topic}" is not one of MANIFEST_TOPICS`);
    } else {
      partitions.set(topic, count);
    }
  }
  let graceMs: number | undefined;
  const grace = env['MANIFEST_GRACE_MS'];
  if (grace !== undefined && grace !== '') {
    graceMs = Number(grace);
    if (!/^\d+$/.test(grace.trim()) || !Number.isSafeInteger(graceMs))
      problems.push(`MANIFEST_GRACE_MS: must be a non-negative whole number of milliseconds, got "${grace}"`);
  }
  let maxObjects: number | undefined;
  const max = env['MANIFEST_MAX_OBJECTS_PER_RUN'];
  if (max !== undefined && max !== '') {
    maxObjects = Number(max);
    if (!/^\d+$/.test(max.trim()) || !Number.isSafeInteger(maxObjects) || maxObjects < 1) {
      problems.push(`MANIFEST_MAX_OBJECTS_PER_RUN: must be a positive whole number of objects, got "${max}"`);
    }
  }
  if (problems.length > 0) throw new ConfigurationError(`Invalid manifest writer configuration: ${problems.join('; ')}`);
  return { topics, partitions, graceMs, maxObjects };
}

// --- The scheduled writer: incremental, bounded per run ----------------------------------------

/**
 * Name of the scheduled writer's state object, one per topic at `{prefix}{topic}/_manifest-state.json`
 * (next to the time directories; query engines skip names starting with `_`, and `catalog`
 * ignores it: it is not a sink object name).
 */
export const MANIFEST_STATE_NAME = '_manifest-state.json';

/** Default cap on the objects the scheduled writer examines (HEADs) per topic and run. */
export const DEFAULT_MANIFEST_MAX_OBJECTS = 10_000;
/** Default cap on the objects held in open (not yet complete) directories of the state. */
export const DEFAULT_MANIFEST_MAX_OPEN_OBJECTS = 50_000;

type ManifestObject = ManifestDocument['partitions'][number]['objects'][number];

/** One partition's cursor: how far the writer has walked its chain. */
interface PartitionCursor {
  readonly generation: number;
  /** Resets in the ledger's history when the cursor started: a new reset restarts the partition. */
  readonly resets: number;
  /** The chain offset examined up to (the last examined object's last offset; at first the generation's start). */
  offset: number;
  /** The largest `max-timestamp` examined (the partition's watermark), null before any. */
  watermark: number | null;
  /**
   * `[last offset, watermark]` at each rise of the watermark, from which a directory found later
   * gets this partition's cut (the first object whose `max-timestamp` reaches the threshold).
   * Rises at or below every partition's watermark can no longer be anyone's cut and are dropped,
   * so the list stays as long as the partitions' skew.
   */
  steps: Array<[number, number]>;
}

/** A time directory seen but whose manifest is not written yet. */
interface OpenDirectory {
  readonly start: number;
  readonly end: number;
  /** Per partition: the cut (`completeThrough`) once its watermark reached end + grace. */
  readonly cuts: Record<string, number>;
  /** Per partition: the directory's objects on its chain up to the cut, in chain order. */
  readonly objects: Record<string, ManifestObject[]>;
}

/** The scheduled writer's state for one topic (the JSON of `_manifest-state.json`). */
export interface ManifestState {
  readonly version: 1;
  readonly topic: string;
  /** The layout and grace the state was computed with: a change starts over. */
  readonly settings: string;
  readonly partitions: Record<string, PartitionCursor>;
  readonly open: Record<string, OpenDirectory>;
}

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

/**
 * Whether directory paths sort in time order (so a listing can start after the oldest
 * directory still needed): only time fields and literal text, the fields from the year down
 * without a gap, and minutes only in UTC (local minutes repeat at a DST change; local hours only
 * repeat inside one directory).
 */
function pathsSortByTime(layout: Layout): boolean {
  const segments = parsePathFormat(layout.settings.pathFormat ?? defaultPathFormat(layout.settings));
  const order = ['yyyy', 'MM', 'dd', 'HH', 'mm'];
  let next = 0;
  for (const segment of segments) {
    if (segment.kind === 'literal') continue;
    if (segment.kind !== 'time' || segment.unit !== order[next]) return false;
    next += 1;
  }
  const utc = layout.settings.timezone === 'UTC' || layout.settings.timezone === 'Etc/UTC';
  return next > 0 && (next < 5 || utc);
}

function parseState(body: Uint8Array, topic: string, settings: string): ManifestState | string {
  let state: ManifestState;
  try {
    state = JSON.parse(Buffer.from(body).toString('utf8')) as ManifestState;
  } catch {
    return 'the state object is not JSON';
  }
  if (state?.version !== 1 || state.topic !== topic || typeof state.partitions !== 'object' || typeof state.open !== 'object') {
    return 'the state object is not a version-1 state of this topic';
  }
  if (state.settings !== settings) return 'the layout or grace changed';
  return state;
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
  let startAfter: string | undefined;
  if (pathsSortByTime(layout) && Number.isFinite(passedBefore)) {
    const [anyPartition] = [...cursors.keys()];
    let low = layout.route({
      topic,
      partition: anyPartition!,
      offset: 0,
      timestamp: passedBefore - grace,
      timestampType: null,
      key: null,
      value: null,
      headers: [],
    }).path;
    for (const path of open.keys()) if (path < low) low = path;
    startAfter = `${base}${low}`;
  }
  const candidates = new Map<number, Array<{ key: string; firstOffset: number }>>();
  for await (const object of inventory.list(base, startAfter)) {
    if (startAfter !== undefined && object.key <= startAfter) continue;
    const name = parseObjectName(object.key.slice(object.key.lastIndexOf('/') + 1));
    if (!name || name.topic !== topic) continue;
    const cursor = cursors.get(name.partition);
    const entry = entries.get(name.partition);
    if (!cursor || !entry || name.generation !== cursor.generation) continue;
    if (name.firstOffset <= cursor.offset || name.firstOffset > entry.committedOffset) continue;
    let list = candidates.get(name.partition);
    if (!list) candidates.set(name.partition, (list = []));
    list.push({ key: object.key, firstOffset: name.firstOffset });
  }
  for (const list of candidates.values()) list.sort((a, b) => a.firstOffset - b.firstOffset);

  // Round robin over partitions up to the cap, so that a partition far behind still advances.
  let openObjects = 0;
  for (const directory of open.values()) for (const list of Object.values(directory.objects)) openObjects += list.length;
  const budget = Math.max(0, Math.min(maxObjects, maxOpen - openObjects));
  const chosen = new Map<number, Array<{ key: string; firstOffset: number }>>();
  const order = [...candidates.keys()].sort((a, b) => a - b);
  let total = 0;
  for (const list of candidates.values()) total += list.length;
  let picked = 0;
  for (let round = 0; picked < budget && picked < total; round++) {
    for (const partition of order) {
      const item = candidates.get(partition)![round];
      if (!item || picked >= budget) continue;
      let list = chosen.get(partition);
      if (!list) chosen.set(partition, (list = []));
      list.push(item);
      picked += 1;
    }
  }
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
