import { describe, expect, it } from 'vitest';
import { createLayout, DEFAULT_LAYOUT, type LayoutSettings } from '../../lib/layout/layout.ts';
import { catalog } from '../../lib/manifest/catalog.ts';
import type { ManifestStateStore } from '../../lib/core/ports.ts';
import { advanceManifests } from '../../lib/manifest/incremental.ts';
import { MANIFEST_STATE_NAME, planManifests } from '../../lib/manifest/manifest.ts';
import type { LedgerReset } from '../../lib/ledger/admin.ts';
import type { Inventory } from '../../lib/aws/s3-inventory.ts';
import { createSink } from '../../lib/sink/sink.ts';
import { testConfig } from '../support/config.ts';
import type { LogRecord } from '../../testkit/kafka/records.ts';
import { toKafkaEvent } from '../../testkit/kafka/events.ts';
import { ManualClock, MemoryLedger, MemoryObjectStore } from '../../testkit/memory-ports.ts';
import { silentLogger, silentMetrics } from '../../testkit/recorders.ts';

/**
 * The scheduled writer's incremental job (`advanceManifests`): a cursor per partition in a state
 * object, only new objects examined, a cap per run, and the same manifests as the full
 * computation (`planManifests` over every object).
 */

const T0 = Date.UTC(2026, 10, 26, 10);

/** Partition p: a record every 10 minutes (partition 1 lags by 25 minutes), one record an hour late. */
function log(partition: number, count: number, t0 = T0): LogRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    topic: 'm',
    partition,
    offset: i,
    timestamp: t0 + i * 10 * 60_000 - partition * 25 * 60_000 + (i === 9 ? -60 * 60_000 : 0),
    key: null,
    value: Buffer.from(JSON.stringify({ id: `m/${partition}/${i}` })),
    kind: 'json',
    headers: [],
  }));
}

/** The memory store as an inventory, counting the HEADs of data objects (not of manifests). */
function inventoryOf(store: MemoryObjectStore) {
  const counts = { heads: 0, listed: 0 };
  const inventory: Inventory = {
    async *list(prefix, startAfter) {
      for (const key of [...store.objects.keys()].sort()) {
        if (!key.startsWith(prefix) || (startAfter !== undefined && key <= startAfter)) continue;
        counts.listed += 1;
        yield { key, size: store.objects.get(key)!.body.byteLength };
      }
    },
    head: async (key) => {
      if (!key.endsWith('_manifest.json')) counts.heads += 1;
      return store.objects.get(key)?.metadata;
    },
    read: async (key) => Buffer.from(store.objects.get(key)!.body),
  };
  return { inventory, counts };
}

/** A state store with S3's conditional-write rules (ETag per version). */
class MemoryStateStore implements ManifestStateStore {
  readonly objects = new Map<string, { body: Uint8Array; etag: string }>();
  #version = 0;
  async load(key: string) {
    return this.objects.get(key);
  }
  async save(key: string, body: Uint8Array, etag: string | undefined) {
    if (this.objects.get(key)?.etag !== etag) return false;
    this.objects.set(key, { body, etag: `"v${++this.#version}"` });
    return true;
  }
}

function world(env: Record<string, string>, settings: Partial<LayoutSettings>) {
  const ports = { ledger: new MemoryLedger(), store: new MemoryObjectStore(), clock: new ManualClock() };
  const layout = createLayout({ ...DEFAULT_LAYOUT, partitioner: 'time', ...settings });
  const { inventory, counts } = inventoryOf(ports.store);
  const stateStore = new MemoryStateStore();
  /** Reset history by partition (the memory ledger has none). */
  const resets = new Map<number, LedgerReset[]>();
  const entries = () => [...ports.ledger.entries.values()].map((e) => ({ ...e, resets: resets.get(e.partition) ?? [] }));
  return {
    ports,
    layout,
    counts,
    stateStore,
    resets,
    async deliver(logs: LogRecord[][], from: number, to: number) {
      const sink = createSink({ config: testConfig(env), ports, logger: silentLogger, metrics: silentMetrics });
      await sink.handle(toKafkaEvent(logs.map((l, p) => ({ topic: 'm', partition: p, records: l.slice(from, to) }))));
    },
    advance(options: { maxObjects?: number; partitions?: number } = {}) {
      const ledger = { list: async () => entries() };
      return advanceManifests({ inventory, ledger, store: ports.store, stateStore, prefix: 'topics/', topic: 'm', layout, ...options });
    },
    async full(partitions?: number) {
      const objects = await catalog(inventory, { prefix: 'topics/', topic: 'm' });
      return planManifests({ prefix: 'topics/', topic: 'm', layout, objects, entries: entries(), ...(partitions ? { partitions } : {}) });
    },
    dataObjects: () => [...ports.store.objects.keys()].filter((key) => !key.endsWith('_manifest.json')).length,
    manifests: () =>
      new Map(
        [...ports.store.objects]
          .filter(([key]) => key.endsWith('_manifest.json'))
          .map(([key, o]) => [key, Buffer.from(o.body).toString('utf8')]),
      ),
  };
}

describe('advanceManifests (the scheduled writer, incremental)', () => {
  const env = { SINK_PARTITIONER: 'time', SINK_ROTATE_MAX_RECORDS: '4' };

  it('examines only the objects written since its last run, and writes what the full computation writes', async () => {
    const w = world(env, {});
    const logs = [log(0, 30), log(1, 30)];
    const expected = new Map<string, string>();
    let before = 0;
    for (const [from, to] of [
      [0, 10],
      [10, 18],
      [18, 30],
    ] as const) {
      await w.deliver(logs, from, to);
      const headsBefore = w.counts.heads;
      const result = await w.advance({ partitions: 2 });
      // Every object is examined exactly once, in the run after it was written.
      expect(result.examined).toBe(w.dataObjects() - before);
      expect(w.counts.heads - headsBefore).toBe(w.dataObjects() - before);
      expect(result).toMatchObject({ backlog: 0, stateSaved: true, problems: [] });
      before = w.dataObjects();
      for (const manifest of (await w.full(2)).manifests) expected.set(manifest.key, Buffer.from(manifest.body).toString('utf8'));
    }
    // The same manifests, byte for byte, as reading every object (hours 09 to 13 of 14).
    expect(w.manifests()).toEqual(expected);
    expect([...expected.keys()].map((key) => key.split('/')[5])).toEqual(['hour=09', 'hour=10', 'hour=11', 'hour=12', 'hour=13']);
    // Nothing new: a run lists only the directories still open and examines nothing.
    const listedBefore = w.counts.listed;
    const idle = await w.advance({ partitions: 2 });
    expect(idle).toMatchObject({ examined: 0, backlog: 0, written: [], existing: [] });
    expect(idle.pending.map((p) => p.path)).toEqual(['year=2026/month=11/day=26/hour=14']);
    expect(w.counts.listed - listedBefore).toBeLessThan(before / 2);
    // The state is a small JSON object next to the manifests, with a cursor per partition.
    const state = JSON.parse(Buffer.from(w.stateStore.objects.get(`topics/m/${MANIFEST_STATE_NAME}`)!.body).toString('utf8'));
    expect(Object.keys(state.partitions)).toEqual(['0', '1']);
    expect(state.partitions['0'].offset).toBe(29);
    // Bounded: only the watermark rises above the slowest partition's are kept (partition 0 is
    // 25 minutes ahead of partition 1), and only the open directory's objects.
    expect(state.partitions['1'].steps).toEqual([]);
    expect(state.partitions['0'].steps.length).toBeLessThanOrEqual(3);
    expect(Object.keys(state.open)).toEqual(['year=2026/month=11/day=26/hour=14']);
  });

  it('caps the objects examined per run, reports the backlog, and catches up on the next runs', async () => {
    const w = world(env, {});
    const logs = [log(0, 30), log(1, 30)];
    await w.deliver(logs, 0, 30);
    const total = w.dataObjects();
    const backlogs: number[] = [];
    for (let run = 0; run < 10; run++) {
      const result = await w.advance({ maxObjects: 5 });
      expect(result.examined).toBeLessThanOrEqual(5);
      backlogs.push(result.backlog);
      if (result.backlog === 0) break;
    }
    expect(backlogs[0]).toBe(total - 5);
    expect(backlogs.at(-1)).toBe(0);
    expect(backlogs).toEqual([...backlogs].sort((a, b) => b - a));
    const full = await w.full();
    expect(w.manifests()).toEqual(new Map(full.manifests.map((m) => [m.key, Buffer.from(m.body).toString('utf8')])));
  });

  it('waits for both occurrences of a repeated local hour (Europe/Paris, autumn DST change)', async () => {
    const w = world({ ...env, SINK_TIMEZONE: 'Europe/Paris' }, { timezone: 'Europe/Paris' });
    // From 23:30 UTC on 24 October (01:30 local), a record every 10 minutes, no late record.
    const paris = [0, 1].map((p) =>
      log(p, 20, Date.UTC(2026, 9, 24, 23, 30) + p * 25 * 60_000).map((r, i) => ({
        ...r,
        timestamp: Date.UTC(2026, 9, 24, 23, 30) + i * 10 * 60_000,
      })),
    );
    const repeated = 'topics/m/year=2026/month=10/day=25/hour=02/_manifest.json';
    await w.deliver(paris, 0, 12); // up to 01:20 UTC: only the first 02:00 is over
    await w.advance();
    expect(w.manifests().has(repeated)).toBe(false);
    await w.deliver(paris, 12, 20); // up to 02:40 UTC
    await w.advance();
    const document = JSON.parse(w.manifests().get(repeated)!);
    expect(document).toMatchObject({ start: '2026-10-25T00:00:00.000Z', end: '2026-10-25T02:00:00.000Z' });
    expect(document.partitions.map((p: { recordCount: number }) => p.recordCount)).toEqual([12, 12]);
  });

  it('restarts a partition the ledger reset (a replay): written manifests stay, new ones match the full computation', async () => {
    const w = world(env, {});
    const logs = [log(0, 30), log(1, 30)];
    await w.deliver(logs, 0, 18);
    await w.advance();
    const before = w.manifests();
    expect(before.size).toBeGreaterThan(0);
    // Replay partition 1 from offset 6: generation 1 starts at committed offset 5.
    const entry = w.ports.ledger.entries.get('m/1')!;
    w.ports.ledger.entries.set('m/1', { ...entry, generation: 1, committedOffset: 5 });
    w.resets.set(1, [
      {
        id: 'r1',
        at: '2026-11-26T13:00:00Z',
        by: 'test',
        reason: 'replay',
        fromGeneration: 0,
        fromOffset: entry.committedOffset,
        toGeneration: 1,
        toOffset: 5,
      },
    ]);
    const sink = createSink({ config: testConfig(env), ports: w.ports, logger: silentLogger, metrics: silentMetrics });
    await sink.handle(
      toKafkaEvent([
        { topic: 'm', partition: 1, records: logs[1]!.slice(6) },
        { topic: 'm', partition: 0, records: logs[0]!.slice(18) },
      ]),
    );
    const result = await w.advance();
    expect(result).toMatchObject({ backlog: 0, problems: [], skipped: [] });
    const after = w.manifests();
    for (const [key, body] of before) expect(after.get(key)).toBe(body);
    const full = new Map((await w.full()).manifests.map((m) => [m.key, Buffer.from(m.body).toString('utf8')]));
    const added = [...after.keys()].filter((key) => !before.has(key));
    expect(added.length).toBeGreaterThan(0);
    for (const key of added) expect(after.get(key)).toBe(full.get(key));
    expect(JSON.parse(after.get(added[0]!)!).partitions[1].generation).toBe(1);
  });

  it('saves its state only if no other run saved in between, and starts over from an unreadable state', async () => {
    const w = world(env, {});
    await w.deliver([log(0, 30), log(1, 30)], 0, 30);
    const [a, b] = await Promise.all([w.advance(), w.advance()]);
    expect([a.stateSaved, b.stateSaved].sort()).toEqual([false, true]);
    expect([...a.written, ...b.written].sort()).toEqual([...w.manifests().keys()].sort());
    const key = `topics/m/${MANIFEST_STATE_NAME}`;
    w.stateStore.objects.set(key, { body: Buffer.from('not json'), etag: '"x"' });
    const again = await w.advance();
    expect(again).toMatchObject({ restarted: 'the state object is not JSON', stateSaved: true, written: [] });
    expect(JSON.parse(Buffer.from(w.stateStore.objects.get(key)!.body).toString('utf8')).version).toBe(1);
  });
});
