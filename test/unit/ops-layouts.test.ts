import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { catalog } from '../../lib/manifest/catalog.ts';
import { locateOffset, locateTimestamp } from '../../lib/ops/locate.ts';
import type { Inventory } from '../../lib/aws/s3-inventory.ts';
import { reconcile } from '../../lib/ops/verify.ts';
import { createSink } from '../../lib/sink/sink.ts';
import { testConfig } from '../support/config.ts';
import { generateLog } from '../../testkit/kafka/generate.ts';
import { rng } from '../../testkit/kafka/records.ts';
import { toKafkaEvent } from '../../testkit/kafka/events.ts';
import { ManualClock, MemoryLedger, MemoryObjectStore } from '../../testkit/memory-ports.ts';
import { silentLogger, silentMetrics } from '../../testkit/recorders.ts';

/** The operations tools (catalog, verify's reconciliation, locate) over the new layouts and formats. */
function inventoryOf(store: MemoryObjectStore): Inventory {
  return {
    async *list(prefix) {
      for (const key of [...store.objects.keys()].sort())
        if (key.startsWith(prefix)) yield { key, size: store.objects.get(key)!.body.byteLength };
    },
    head: async (key) => store.objects.get(key)?.metadata,
    read: async (key) => {
      const body = Buffer.from(store.objects.get(key)!.body);
      return key.endsWith('.gz') ? gunzipSync(body) : body;
    },
  };
}

describe('operations tools on time, field and Parquet layouts', () => {
  for (const [label, env] of [
    ['hourly JSON Lines', { SINK_PARTITIONER: 'time', SINK_ROTATE_MAX_RECORDS: '3' }],
    ['field Parquet', { SINK_PARTITIONER: 'field', SINK_PARTITION_FIELD: 'kind', SINK_FORMAT: 'parquet', SINK_COMPRESSION: 'zstd' }],
    [
      'hourly raw bytes (Joda path.format)',
      { SINK_PARTITIONER: 'time', SINK_PATH_FORMAT: "'dt'=YYYY-MM-dd'T'HH", SINK_FORMAT: 'raw', SINK_ROTATE_INTERVAL_MS: '3600000' },
    ],
  ] as const) {
    it(`${label}: catalog finds every object, verify finds whole chains, locate finds records`, async () => {
      const ports = { ledger: new MemoryLedger(), store: new MemoryObjectStore(), clock: new ManualClock() };
      const sink = createSink({ config: testConfig(env), ports, logger: silentLogger, metrics: silentMetrics });
      const logs = [0, 1].map((partition) =>
        generateLog({ topic: 'ops.t', partition, count: 40, random: rng(11 + partition), textRate: 0 })
          .filter((r) => r.kind === 'json')
          .map((r) => ({
            ...r,
            timestamp: Date.UTC(2026, 10, 26) + r.offset * 17 * 60_000,
            value: Buffer.from(JSON.stringify({ id: `ops.t/${partition}/${r.offset}`, kind: r.offset % 3 === 0 ? 'a' : 'b' })),
          })),
      );
      for (let start = 0; start < 40; start += 13) {
        await sink.handle(
          toKafkaEvent(logs.map((log, partition) => ({ topic: 'ops.t', partition, records: log.slice(start, start + 13) }))),
        );
      }
      const inventory = inventoryOf(ports.store);
      const objects = await catalog(inventory, { prefix: 'topics/', topic: 'ops.t' });
      expect(objects.length).toBe(ports.store.objects.size);
      expect(objects.every((o) => o.problem === undefined)).toBe(true);
      expect(new Set(objects.map((o) => o.key.split('/').slice(2, -1).join('/'))).size).toBeGreaterThan(1);
      const entries = [...ports.ledger.entries.values()].map((entry) => ({ ...entry, resets: [] }));
      const report = reconcile({ entries, objects });
      expect(report.errors).toBe(0);
      expect(report.partitions.map((p) => p.records)).toEqual(logs.map((log) => log.length));
      expect((await catalog(inventory, { prefix: 'topics/', topic: 'ops.t', partition: 1 })).every((o) => o.partition === 1)).toBe(true);
      const target = logs[1]![17]!;
      const located = await locateOffset(inventory, { prefix: 'topics/', entry: entries[1]!, offset: target.offset });
      expect(located).toBeDefined();
      expect(located!.firstOffset).toBeLessThanOrEqual(target.offset);
      expect(located!.lastOffset).toBeGreaterThanOrEqual(target.offset);
      if (env.SINK_FORMAT !== 'raw') expect(located!.offset).toBe(target.offset);
      const byTime = await locateTimestamp(inventory, { prefix: 'topics/', entry: entries[1]!, timestamp: target.timestamp });
      expect(byTime?.key).toBeDefined();
      if (env.SINK_FORMAT !== 'raw') expect(byTime!.offset).toBe(target.offset);
    });
  }
});
