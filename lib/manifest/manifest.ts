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
import { ObjectExistsError } from '../core/errors.ts';
import type { Layout } from '../layout/layout.ts';
import { topicPrefix } from '../layout/naming.ts';
import type { ObjectStore } from '../core/ports.ts';
import { catalog, type CatalogedObject, type Progress } from './catalog.ts';
import type { AuditedLedgerEntry } from '../ledger/admin.ts';
import type { Inventory } from '../aws/s3-inventory.ts';

export const MANIFEST_NAME = '_manifest.json';

/**
 * Name of the scheduled writer's state object, one per topic at `{prefix}{topic}/_manifest-state.json`
 * (next to the time directories; query engines skip names starting with `_`, and `catalog`
 * ignores it: it is not a sink object name).
 */
export const MANIFEST_STATE_NAME = '_manifest-state.json';

export type ManifestObject = ManifestDocument['partitions'][number]['objects'][number];

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
export function manifestPartition(
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
export function manifestOf(input: {
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
