import { describe, expect, it } from 'vitest';
import { createLayout, DEFAULT_LAYOUT } from '../../lib/layout/layout.ts';
import { catalog } from '../../lib/manifest/catalog.ts';
import { planManifests, writeManifests } from '../../lib/manifest/manifest.ts';
import type { Inventory } from '../../lib/aws/s3-inventory.ts';
import { createSink } from '../../lib/sink/sink.ts';
import { testConfig } from '../support/config.ts';
import type { LogRecord } from '../../testkit/kafka/records.ts';
import { toKafkaEvent } from '../../testkit/kafka/events.ts';
import { ManualClock, MemoryLedger, MemoryObjectStore } from '../../testkit/memory-ports.ts';
import { silentLogger, silentMetrics } from '../../testkit/recorders.ts';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 26, 10);

/** Partition p: a record every 10 minutes (partition 1 lags by 25 minutes), one late record. */
function log(partition: number, count: number): LogRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    topic: 'm',
    partition,
    offset: i,
    timestamp: T0 + i * 10 * 60_000 - partition * 25 * 60_000 + (i === 9 ? -60 * 60_000 : 0),
    key: null,
    value: Buffer.from(JSON.stringify({ id: `m/${partition}/${i}` })),
    kind: 'json',
    headers: [],
  }));
}

function inventoryOf(store: MemoryObjectStore): Inventory {
  return {
    async *list(prefix) {
      for (const key of [...store.objects.keys()].sort())
        if (key.startsWith(prefix)) yield { key, size: store.objects.get(key)!.body.byteLength };
    },
    head: async (key) => store.objects.get(key)?.metadata,
    read: async (key) => Buffer.from(store.objects.get(key)!.body),
  };
}

describe('completeness markers (_manifest.json)', () => {
  const env = { SINK_PARTITIONER: 'time', SINK_ROTATE_MAX_RECORDS: '4' };
  const layout = createLayout({ ...DEFAULT_LAYOUT, partitioner: 'time' });
  const logs = [log(0, 24), log(1, 24)];

  async function deliverUpTo(
    ports: { ledger: MemoryLedger; store: MemoryObjectStore; clock: ManualClock },
    counts: [number, number],
    from: [number, number] = [0, 0],
  ) {
    const sink = createSink({ config: testConfig(env), ports, logger: silentLogger, metrics: silentMetrics });
    await sink.handle(toKafkaEvent(logs.map((l, p) => ({ topic: 'm', partition: p, records: l.slice(from[p], counts[p]) }))));
  }
  async function plan(ports: { ledger: MemoryLedger; store: MemoryObjectStore }, partitions?: number) {
    const objects = await catalog(inventoryOf(ports.store), { prefix: 'topics/', topic: 'm' });
    const entries = [...ports.ledger.entries.values()].map((e) => ({ ...e, resets: [] }));
    return planManifests({ prefix: 'topics/', topic: 'm', layout, objects, entries, ...(partitions ? { partitions } : {}) });
  }

  it('waits for every partition, then writes one deterministic manifest per complete hour, idempotently', async () => {
    const ports = { ledger: new MemoryLedger(), store: new MemoryObjectStore(), clock: new ManualClock() };
    await deliverUpTo(ports, [10, 4]);
    let first = await plan(ports);
    // Partition 1 has reached 10:05 only: hour 09 is complete for both, hour 10 waits for partition 1.
    expect(first.manifests.map((m) => m.document.path)).toEqual(['year=2026/month=11/day=26/hour=09']);
    expect(first.pending.find((p) => p.path.endsWith('hour=10'))?.waitingFor).toEqual([1]);
    const early = first.manifests[0]!;
    // A partition the ledger has never seen holds completeness back when the count is given.
    await deliverUpTo(ports, [24, 24], [10, 4]);
    expect((await plan(ports, 3)).manifests).toEqual([]);
    expect((await plan(ports, 3)).pending.every((p) => p.waitingFor.includes(2))).toBe(true);
    first = await plan(ports);
    const hours = first.manifests.map((m) => m.document.path);
    expect(hours).toContain('year=2026/month=11/day=26/hour=10');
    const ten = first.manifests.find((m) => m.document.path.endsWith('hour=10'))!;
    expect(ten.key).toBe('topics/m/year=2026/month=11/day=26/hour=10/_manifest.json');
    expect(ten.document).toMatchObject({ start: '2026-11-26T10:00:00.000Z', end: '2026-11-26T11:00:00.000Z' });
    // Every record of hour 10 up to each partition's cut is listed, and only those.
    for (const part of ten.document.partitions) {
      const expected = logs[part.partition]!.filter(
        (r) => r.offset <= part.completeThrough && r.timestamp >= T0 && r.timestamp < T0 + HOUR,
      );
      expect(part.recordCount).toBe(expected.length);
    }
    // Computed early or late, the hour-09 manifest is the same, byte for byte.
    expect(Buffer.from(first.manifests.find((m) => m.key === early.key)!.body).equals(Buffer.from(early.body))).toBe(true);
    const written = await writeManifests(ports.store, first);
    expect(written.written.length).toBe(first.manifests.length);
    // Computed again: the same manifests; writing them again is a no-op (412).
    const again = await plan(ports);
    for (const manifest of first.manifests) {
      expect(Buffer.from(again.manifests.find((m) => m.key === manifest.key)!.body).equals(Buffer.from(manifest.body))).toBe(true);
    }
    expect((await writeManifests(ports.store, again)).written).toEqual([]);
    // The manifest is not taken for a data object by the operations tools.
    expect((await catalog(inventoryOf(ports.store), { prefix: 'topics/', topic: 'm' })).some((o) => o.key.endsWith('_manifest.json'))).toBe(
      false,
    );
  });

  it('keeps both occurrences of a repeated local hour in one manifest (Europe/Paris, autumn DST change)', async () => {
    // 2026-10-25: 03:00 CEST becomes 02:00 CET, so local 02:00-03:00 is UTC 00:00-01:00 and again 01:00-02:00.
    const paris = { SINK_PARTITIONER: 'time', SINK_TIMEZONE: 'Europe/Paris', SINK_ROTATE_MAX_RECORDS: '4' };
    const parisLayout = createLayout({ ...DEFAULT_LAYOUT, partitioner: 'time', timezone: 'Europe/Paris' });
    const start = Date.UTC(2026, 9, 24, 23, 30);
    /** A record every 10 minutes from 23:30 UTC (01:30 local). */
    const records = (partition: number, count: number): LogRecord[] =>
      Array.from({ length: count }, (_, i) => ({
        topic: 'm',
        partition,
        offset: i,
        timestamp: start + i * 10 * 60_000,
        key: null,
        value: Buffer.from(JSON.stringify({ id: `m/${partition}/${i}` })),
        kind: 'json',
        headers: [],
      }));
    const ports = { ledger: new MemoryLedger(), store: new MemoryObjectStore(), clock: new ManualClock() };
    const deliver = async (from: number, to: number) => {
      const sink = createSink({ config: testConfig(paris), ports, logger: silentLogger, metrics: silentMetrics });
      await sink.handle(toKafkaEvent([0, 1].map((partition) => ({ topic: 'm', partition, records: records(partition, to).slice(from) }))));
    };
    const planNow = async () => {
      const objects = await catalog(inventoryOf(ports.store), { prefix: 'topics/', topic: 'm' });
      const entries = [...ports.ledger.entries.values()].map((e) => ({ ...e, resets: [] }));
      return planManifests({ prefix: 'topics/', topic: 'm', layout: parisLayout, objects, entries });
    };
    const repeated = 'year=2026/month=10/day=25/hour=02';
    // Up to 01:20 UTC: the first 02:00 is over, the second is not.
    await deliver(0, 12);
    const early = await planNow();
    expect(early.manifests.map((m) => m.document.path)).toEqual(['year=2026/month=10/day=25/hour=01']);
    expect(early.pending.map((p) => p.path)).toContain(repeated);
    // Up to 02:20 UTC (03:20 local): hour 02 is complete, both of its occurrences.
    await deliver(12, 18);
    const late = await planNow();
    const two = late.manifests.find((m) => m.document.path === repeated)!;
    expect(two.document).toMatchObject({ start: '2026-10-25T00:00:00.000Z', end: '2026-10-25T02:00:00.000Z' });
    // 00:00-02:00 UTC: 12 records a partition, all in the manifest.
    expect(two.document.partitions.map((p) => p.recordCount)).toEqual([12, 12]);
  });

  it('needs the time partitioner with Kafka record time', () => {
    expect(() => planManifests({ prefix: 'topics/', topic: 'm', layout: createLayout(DEFAULT_LAYOUT), objects: [], entries: [] })).toThrow(
      'time partitioner',
    );
  });
});
