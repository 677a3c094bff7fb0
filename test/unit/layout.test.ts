import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/config.ts';
import { ConfigurationError, PoisonRecordError } from '../../lib/core/errors.ts';
import { createLayout, DEFAULT_LAYOUT, type LayoutSettings } from '../../lib/layout/layout.ts';
import { parsePathFormat } from '../../lib/layout/path-format.ts';
import type { KafkaRecord } from '../../lib/core/model.ts';
import { parseObjectName } from '../../lib/layout/naming.ts';
import { fromMetadata } from '../../lib/layout/object-metadata.ts';
import { createSink } from '../../lib/sink/sink.ts';
import { testConfig } from '../support/config.ts';
import { toKafkaEvent } from '../../testkit/kafka/events.ts';
import type { LogRecord } from '../../testkit/kafka/records.ts';
import { ManualClock, MemoryLedger, MemoryObjectStore } from '../../testkit/memory-ports.ts';
import { checkLayout, hourlyPath } from '../../testkit/read-back.ts';
import { silentLogger, silentMetrics } from '../../testkit/recorders.ts';

const record = (offset: number, timestamp: number | null, value: unknown, partition = 0): KafkaRecord => ({
  topic: 'orders',
  partition,
  offset,
  timestamp,
  timestampType: 'CREATE_TIME',
  key: null,
  value: value === undefined ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
  headers: [],
});
const layout = (settings: Partial<LayoutSettings>) => createLayout({ ...DEFAULT_LAYOUT, ...settings });
const T = Date.UTC(2026, 10, 26, 23, 47, 12);

describe('path templates and partitioners', () => {
  it('renders the default layout as before: partition={p}', () => {
    expect(layout({}).route(record(5, T, { a: 1 }, 3)).path).toBe('partition=3');
  });

  it('names a fixed path only when the path depends on the topic-partition alone', () => {
    const byDefault = layout({});
    expect(byDefault.fixedPath(record(5, T, null, 3))).toBe('partition=3');
    expect(byDefault.fixedPath(record(5, T, null, 4))).toBe('partition=4');
    expect(byDefault.route(record(6, T, null, 4))).toEqual({ path: 'partition=4', time: T });
    expect(layout({ partitioner: 'time' }).fixedPath(record(0, T, null))).toBeUndefined();
    expect(layout({ partitioner: 'field', partitionField: 'country' }).fixedPath(record(0, T, { country: 'FR' }))).toBeUndefined();
    // A time from a field still comes with the fixed path (for rotation), never a throw.
    const timed = layout({ timestampExtractor: 'RecordField', timestampField: 'at' });
    expect(timed.fixedPath(record(0, T, 'text'))).toBe('partition=0');
    expect(timed.route(record(0, 0, { at: T }))).toEqual({ path: 'partition=0', time: T });
  });

  it("reads Confluent's Joda path.format and Aiven's template variables alike", () => {
    const joda = layout({ partitioner: 'time', pathFormat: "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH" });
    const aiven = layout({ partitioner: 'time' });
    expect(joda.route(record(0, T, null)).path).toBe('year=2026/month=11/day=26/hour=23');
    expect(aiven.route(record(0, T, null)).path).toBe('year=2026/month=11/day=26/hour=23');
    const both = layout({
      partitioner: 'time',
      pathFormat: 'dt={{timestamp:unit=yyyy}}-{{timestamp:unit=MM}}-{{timestamp:unit=dd}}/p={{partition:padding=true}}',
    });
    expect(both.route(record(0, T, null, 7)).path).toBe('dt=2026-11-26/p=0000000007');
    expect(() => parsePathFormat("'year'=YYYY/ww")).toThrow('not supported');
    expect(() => parsePathFormat('{{nope}}')).toThrow('unknown variable');
    expect(() => parsePathFormat('{{topic}}//x')).toThrow('empty');
    expect(() => parsePathFormat('a/{{topic}}/../b')).toThrow('".."');
  });

  it('formats record time in the configured zone, with DST, never the wall clock', () => {
    const kolkata = layout({ partitioner: 'time', timezone: 'Asia/Kolkata' });
    expect(kolkata.route(record(0, T, null)).path).toBe('year=2026/month=11/day=27/hour=05'); // 23:47Z = 05:17 +05:30
    const newYork = layout({ partitioner: 'time', timezone: 'America/New_York' });
    expect(newYork.route(record(0, Date.UTC(2026, 6, 1, 12), null)).path).toBe('year=2026/month=07/day=01/hour=08'); // EDT
    expect(newYork.route(record(0, Date.UTC(2026, 0, 1, 12), null)).path).toBe('year=2026/month=01/day=01/hour=07'); // EST
  });

  it('formats the years 0000-9999 in any zone (years below 100 and 1 BC included), and no other', () => {
    const paris = layout({ partitioner: 'time', timezone: 'Europe/Paris' });
    expect(paris.route(record(0, Date.parse('0050-06-01T12:00:00Z'), null)).path).toBe('year=0050/month=06/day=01/hour=12'); // LMT +00:09
    expect(paris.route(record(0, Date.parse('0000-06-01T12:00:00Z'), null)).path).toBe('year=0000/month=06/day=01/hour=12');
    expect(paris.route(record(0, Date.parse('9999-12-31T22:59:59Z'), null)).path).toBe('year=9999/month=12/day=31/hour=23');
    expect(() => paris.route(record(0, Date.parse('9999-12-31T23:00:00Z'), null))).toThrow('outside the years 0000-9999');
    expect(() => layout({ partitioner: 'time' }).route(record(0, -62_167_219_200_001, null))).toThrow('outside the years 0000-9999');
  });

  it('floors to partition.duration.ms (15 minutes) and defaults it to the finest unit', () => {
    const quarter = layout({ partitioner: 'time', pathFormat: "'dt'=YYYY-MM-dd/'t'=HHmm", partitionDurationMs: 15 * 60_000 });
    expect(quarter.route(record(0, T, null)).path).toBe('dt=2026-11-26/t=2345');
    const daily = layout({ partitioner: 'time', pathFormat: "'dt'=YYYY-MM-dd" });
    expect(daily.route(record(0, T, null)).path).toBe('dt=2026-11-26');
  });

  it('takes record time from a field of the JSON value (epoch ms or ISO-8601 with a zone) and rejects what has none', () => {
    const byField = layout({ partitioner: 'time', timestampExtractor: 'RecordField', timestampField: 'meta.at' });
    expect(byField.route(record(0, 0, { meta: { at: T } })).path).toBe('year=2026/month=11/day=26/hour=23');
    expect(byField.route(record(0, 0, { meta: { at: '2026-11-26T21:05:00+01:00' } })).path).toBe('year=2026/month=11/day=26/hour=20');
    expect(() => byField.route(record(0, T, { meta: {} }))).toThrow(PoisonRecordError);
    expect(() => byField.route(record(0, T, { meta: { at: '2026-11-26T21:05:00' } }))).toThrow('ISO-8601'); // no zone
    expect(() => byField.route(record(0, T, 'plain text'))).toThrow('not JSON');
    expect(() => layout({ partitioner: 'time' }).route(record(0, null, null))).toThrow('no timestamp');
  });

  it('partitions by a top-level field, percent-encoded; a record without it is poison', () => {
    const byField = layout({ partitioner: 'field', partitionField: 'country' });
    expect(byField.route(record(0, T, { country: 'FR' })).path).toBe('country=FR');
    expect(byField.route(record(0, T, { country: 'a/b c=d' })).path).toBe('country=a%2Fb%20c%3Dd');
    expect(byField.route(record(0, T, { country: 42 })).path).toBe('country=42');
    for (const value of [{}, { country: null }, { country: '' }, { country: { a: 1 } }, { country: '..' }, 'text']) {
      expect(() => byField.route(record(0, T, value))).toThrow(PoisonRecordError);
    }
  });
});

describe('layout configuration', () => {
  const required = { SINK_BUCKET: 'my-sink-bucket', LEDGER_TABLE: 'sink-ledger' };
  it('maps the settings and leaves the default layout implicit', () => {
    expect(loadConfig(required).layout).toBeUndefined();
    expect(loadConfig(required).rotation).toBeUndefined();
    const config = loadConfig({
      ...required,
      SINK_PARTITIONER: 'time',
      SINK_TIMEZONE: 'Europe/Paris',
      SINK_ROTATE_MAX_RECORDS: '500',
      SINK_ROTATE_INTERVAL_MS: '600000',
    });
    expect(config.layout).toMatchObject({ partitioner: 'time', timezone: 'Europe/Paris' });
    expect(config.rotation).toEqual({ maxRecords: 500, maxBytes: undefined, intervalMs: 600_000 });
  });

  it('reports every layout problem at cold start', () => {
    const attempt = () =>
      loadConfig({
        ...required,
        SINK_PARTITIONER: 'field',
        SINK_TIMEZONE: 'Mars/Olympus',
        SINK_TIMESTAMP_EXTRACTOR: 'RecordField',
        SINK_PARTITION_DURATION_MS: '60000',
      });
    expect(attempt).toThrow(ConfigurationError);
    expect(attempt).toThrow(/SINK_TIMEZONE.*Mars\/Olympus/);
    expect(attempt).toThrow(/SINK_TIMESTAMP_FIELD: required/);
    expect(attempt).toThrow(/SINK_PARTITION_FIELD: required/);
    expect(attempt).toThrow(/SINK_PARTITION_DURATION_MS: only used/);
    expect(() => loadConfig({ ...required, SINK_TIMESTAMP_EXTRACTOR: 'Wallclock' })).toThrow('never the wall clock');
    expect(() => loadConfig({ ...required, SINK_PATH_FORMAT: 'hour={{timestamp:unit=HH}}' })).toThrow('SINK_PARTITIONER=time');
    expect(() => loadConfig({ ...required, SINK_PARTITIONER: 'time', SINK_PATH_FORMAT: "'year'=YYYY/ww" })).toThrow('SINK_PATH_FORMAT');
  });
});

describe('delivery with rotation and time partitions (in-memory ports, read back with zlib + JSON.parse)', () => {
  const topic = 'orders';
  const log: LogRecord[] = Array.from({ length: 40 }, (_, index) => ({
    topic,
    partition: 0,
    offset: 100 + index * 2,
    timestamp: Date.UTC(2026, 10, 26, 22, 0) + index * 6 * 60_000 - (index % 5 === 3 ? 9 * 60_000 : 0),
    key: null,
    value: Buffer.from(JSON.stringify({ id: index, country: ['FR', 'DE', 'FR', 'IT'][index % 4] })),
    kind: 'json',
    headers: [],
  }));
  const deliver = async (env: Record<string, string>, batches: number[]) => {
    const ports = { ledger: new MemoryLedger(), store: new MemoryObjectStore(), clock: new ManualClock() };
    const sink = createSink({ config: testConfig(env), ports, logger: silentLogger, metrics: silentMetrics });
    let start = 0;
    for (const size of batches) {
      await sink.handle(toKafkaEvent([{ topic, partition: 0, records: log.slice(start, start + size) }]));
      start += size;
    }
    const objects = [...ports.store.objects.values()].map((object) => ({
      key: object.key,
      metadata: fromMetadata(object.key, object.metadata),
      lines: gunzipSync(object.body)
        .toString('utf8')
        .trimEnd()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    }));
    return { objects, ledger: ports.ledger };
  };

  it('cuts at hour boundaries, max records and the rotate interval; keys depend on the records only', async () => {
    const env = { SINK_PARTITIONER: 'time', SINK_ROTATE_MAX_RECORDS: '4', SINK_ROTATE_INTERVAL_MS: String(15 * 60_000) };
    const { objects, ledger } = await deliver(env, [40]);
    const delivered = objects.flatMap((o) => o.lines.map((line) => ({ key: o.key, generation: 0, line })));
    expect(delivered.map((d) => d.line['offset'])).toEqual(log.map((r) => r.offset));
    expect(checkLayout(delivered, 'topics/', { path: hourlyPath(0), maxRecords: 4, intervalMs: 15 * 60_000 })).toEqual([]);
    expect(checkLayout(delivered, 'topics/', { path: hourlyPath(60) })).not.toEqual([]); // the checker sees a wrong zone
    expect(objects.length).toBeGreaterThan(10);
    // The chain: each object continues after the one before; the ledger ends at the last offset.
    const sorted = [...objects].sort((a, b) => a.metadata.firstOffset - b.metadata.firstOffset);
    for (const [i, o] of sorted.entries()) expect(o.metadata.afterOffset).toBe(i === 0 ? -1 : sorted[i - 1]!.metadata.lastOffset);
    expect(ledger.entries.get('orders/0')!.committedOffset).toBe(log.at(-1)!.offset);
    for (const o of objects) {
      expect(o.key).toMatch(/^topics\/orders\/year=2026\/month=11\/day=2[67]\/hour=\d\d\/orders\+0\+\d{20}\.jsonl\.gz$/);
      expect(parseObjectName(o.key.slice(o.key.lastIndexOf('/') + 1))?.firstOffset).toBe(o.metadata.firstOffset);
    }
    // Other batch boundaries: the same objects wherever a batch did not end inside one.
    const again = await deliver(env, [40]);
    expect(again.objects.map((o) => o.key)).toEqual(objects.map((o) => o.key));
  });

  it('cuts by the rotate interval on the default layout too (one directory, record times from the timestamps)', async () => {
    const interval = 15 * 60_000;
    const { objects } = await deliver({ SINK_ROTATE_INTERVAL_MS: String(interval) }, [40]);
    const sorted = [...objects].sort((a, b) => a.metadata.firstOffset - b.metadata.firstOffset);
    expect(sorted.flatMap((o) => o.lines.map((l) => l['offset']))).toEqual(log.map((r) => r.offset));
    expect(sorted.length).toBeGreaterThan(5);
    sorted.forEach((o, i) => {
      expect(o.key).toContain('/partition=0/');
      const times = o.lines.map((l) => l['timestamp'] as number);
      expect(Math.max(...times)).toBeLessThan(times[0]! + interval);
      // One batch: every cut was the interval's, made by a record at or past the object's first time + interval.
      if (i > 0) expect(times[0]).toBeGreaterThanOrEqual((sorted[i - 1]!.lines[0]!['timestamp'] as number) + interval);
    });
  });

  it('cuts by max bytes (the uncompressed body reaches the limit; at least one record each)', async () => {
    const { objects } = await deliver({ SINK_ROTATE_MAX_BYTES: '1024' }, [25, 15]);
    for (const o of objects) expect(o.lines.length).toBeLessThanOrEqual(Math.ceil(1024 / 150) + 1);
    expect(objects.flatMap((o) => o.lines.map((l) => l['offset']))).toEqual(log.map((r) => r.offset));
    expect(objects.every((o) => o.key.includes('/partition=0/'))).toBe(true);
  });

  it('field partitioning never mixes two values in one object', async () => {
    const { objects } = await deliver({ SINK_PARTITIONER: 'field', SINK_PARTITION_FIELD: 'country' }, [10, 30]);
    for (const o of objects) {
      const dir = o.key.split('/').at(-2)!;
      expect(new Set(o.lines.map((l) => `country=${(l['value'] as { country: string }).country}`))).toEqual(new Set([dir]));
    }
    expect(objects.flatMap((o) => o.lines.map((l) => l['offset']))).toEqual(log.map((r) => r.offset));
  });

  it('a record the partitioner cannot place is poison: stops the partition (none) or is dead-lettered (all)', async () => {
    const bad = { ...log[0]!, offset: 99, value: Buffer.from('{"country":null}') };
    const ports = { ledger: new MemoryLedger(), store: new MemoryObjectStore(), clock: new ManualClock() };
    const strict = createSink({
      config: testConfig({ SINK_PARTITIONER: 'field', SINK_PARTITION_FIELD: 'country' }),
      ports,
      logger: silentLogger,
      metrics: silentMetrics,
    });
    await expect(strict.handle(toKafkaEvent([{ topic, partition: 0, records: [bad, ...log.slice(0, 3)] }]))).rejects.toThrow(
      'field "country" is a null',
    );
    const tolerant = createSink({
      config: testConfig({ SINK_PARTITIONER: 'field', SINK_PARTITION_FIELD: 'country', SINK_ERRORS_TOLERANCE: 'all' }),
      ports,
      logger: silentLogger,
      metrics: silentMetrics,
    });
    await tolerant.handle(toKafkaEvent([{ topic, partition: 0, records: [bad, ...log.slice(0, 3)] }]));
    const keys = [...ports.store.objects.keys()].sort();
    expect(keys).toContain('dead-letters/orders/partition=0/orders+0+00000000000000000099.json');
    // The range starting at the poison record is marked by an empty object under _unpartitioned.
    expect(keys).toContain('topics/orders/_unpartitioned/orders+0+00000000000000000099.jsonl.gz');
    expect(ports.ledger.entries.get('orders/0')!.committedOffset).toBe(log[2]!.offset);
  });
});
