/**
 * The delivery path's edges (issue 14): ranges the source skipped, objects under a chain key whose
 * metadata is impossible, and naming settings that change between a crash and its retry.
 */
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CorruptObjectError } from '../../lib/core/errors.ts';
import { type NewObject, MAX_SKIPPED_RANGES } from '../../lib/core/ports.ts';
import { createSink, SinkMetric } from '../../lib/sink/sink.ts';
import { testConfig } from '../support/config.ts';
import { generateLog } from '../../testkit/kafka/generate.ts';
import { type LogRecord, rng } from '../../testkit/kafka/records.ts';
import { toKafkaEvent } from '../../testkit/kafka/events.ts';
import { ManualClock, MemoryLedger, MemoryObjectStore } from '../../testkit/memory-ports.ts';
import { RecordingLogger, RecordingMetrics } from '../../testkit/recorders.ts';

function setup(env: Record<string, string> = {}, shared?: { ledger: MemoryLedger; store: MemoryObjectStore }) {
  const ledger = shared?.ledger ?? new MemoryLedger();
  const store = shared?.store ?? new MemoryObjectStore();
  const clock = new ManualClock();
  const logger = new RecordingLogger();
  const metrics = new RecordingMetrics();
  const sink = createSink({ config: testConfig(env), ports: { ledger, store, clock }, logger, metrics });
  return { ledger, store, clock, logger, metrics, sink };
}

const topic = 'orders';
const log = generateLog({ topic, partition: 0, count: 120, random: rng(11), textRate: 0, gapRate: 0 });
const event = (records: readonly LogRecord[]) => toKafkaEvent([{ topic, partition: 0, records }]);

/** Every offset in every data object, whatever its compression. */
function offsetsIn(store: MemoryObjectStore, prefix = ''): number[] {
  return [...store.objects.values()]
    .filter((object) => !object.key.includes('dead-letters/') && object.key.startsWith(prefix))
    .flatMap((object: NewObject) => {
      const bytes = object.key.endsWith('.gz')
        ? gunzipSync(object.body)
        : object.key.endsWith('.zst')
          ? zstdDecompressSync(object.body)
          : Buffer.from(object.body);
      const text = bytes.toString('utf8');
      return text
        .trimEnd()
        .split('\n')
        .map((line) => Number(JSON.parse(line).offset));
    })
    .sort((a, b) => a - b);
}

describe('ranges the source skipped', () => {
  it('records a batch that starts above committed + 1 on the ledger item, counts it and warns', async () => {
    const { sink, ledger, metrics, logger } = setup();
    await sink.handle(event(log.slice(0, 10)));
    expect(metrics.get(SinkMetric.skippedOffsets)).toBe(0);
    // The mapping gave up on [10..29] (retries, record age) and moved on.
    await sink.handle(event(log.slice(30, 40)));
    const entry = ledger.entries.get('orders/0')!;
    expect(entry.committedOffset).toBe(39);
    expect(entry.skippedRanges).toEqual([
      { kind: 'gap', generation: 0, fromOffset: 10, toOffset: 29, detectedAt: '2026-11-26T00:00:00.000Z' },
    ]);
    expect(metrics.get(SinkMetric.skippedOffsets)).toBe(20);
    const warning = logger.entries.find((line) => line.level === 'warn');
    expect(warning?.message).toMatch(/skipped/i);
    expect(warning?.extra[0]).toMatchObject({ partition: 'orders-0', fromOffset: 10, toOffset: 29, skippedOffsets: 20 });
    // A later contiguous commit keeps the history.
    await sink.handle(event(log.slice(40, 45)));
    expect(ledger.entries.get('orders/0')!.skippedRanges).toHaveLength(1);
    expect(metrics.get(SinkMetric.skippedOffsets)).toBe(20);
  });

  it('emits one SkippedOffsets value per range, so an alarm on the maximum sees the largest range', async () => {
    const emitted: Array<[string, number]> = [];
    const ledger = new MemoryLedger();
    const sink = createSink({
      config: testConfig(),
      ports: { ledger, store: new MemoryObjectStore(), clock: new ManualClock() },
      logger: new RecordingLogger(),
      metrics: { addMetric: (name, _unit, value) => emitted.push([name, value]) },
    });
    const other = generateLog({ topic: 'clicks', partition: 1, count: 40, random: rng(2), textRate: 0, gapRate: 0 });
    await sink.handle(
      toKafkaEvent([
        { topic, partition: 0, records: log.slice(0, 5) },
        { topic: 'clicks', partition: 1, records: other.slice(0, 5) },
      ]),
    );
    emitted.length = 0;
    await sink.handle(
      toKafkaEvent([
        { topic, partition: 0, records: log.slice(6, 10) },
        { topic: 'clicks', partition: 1, records: other.slice(8, 12) },
      ]),
    );
    expect(emitted.filter(([name]) => name === SinkMetric.skippedOffsets).map(([, value]) => value)).toEqual([1, 3]);
  });

  it('records where a partition first started, without counting it as skipped', async () => {
    const { sink, ledger, metrics } = setup();
    await sink.handle(event(log.slice(50, 60)));
    expect(ledger.entries.get('orders/0')!.skippedRanges).toEqual([
      { kind: 'start', generation: 0, fromOffset: 0, toOffset: 49, detectedAt: '2026-11-26T00:00:00.000Z' },
    ]);
    expect(metrics.get(SinkMetric.skippedOffsets)).toBe(0);
  });

  it('does not count a redelivered batch that only overlaps what is committed', async () => {
    const { sink, ledger, metrics } = setup();
    await sink.handle(event(log.slice(0, 10)));
    await sink.handle(event(log.slice(5, 20)));
    expect(ledger.entries.get('orders/0')!.skippedRanges).toBeUndefined();
    expect(metrics.get(SinkMetric.skippedOffsets)).toBe(0);
  });

  it('keeps only the newest ranges', async () => {
    const { sink, ledger, metrics } = setup();
    const records = generateLog({ topic, partition: 0, count: 3 * (MAX_SKIPPED_RANGES + 5), random: rng(1), textRate: 0, gapRate: 0 });
    for (let i = 0; i < records.length; i += 3) await sink.handle(event([records[i]!]));
    const ranges = ledger.entries.get('orders/0')!.skippedRanges!;
    expect(ranges).toHaveLength(MAX_SKIPPED_RANGES);
    expect(ranges.at(-1)).toMatchObject({ fromOffset: records.at(-3)!.offset - 2, toOffset: records.at(-3)!.offset - 1 });
    expect(metrics.get(SinkMetric.skippedOffsets)).toBe(2 * (MAX_SKIPPED_RANGES + 4));
  });
});

describe('an object under a chain key whose metadata is impossible is never adopted', () => {
  /** Plants the object a rogue writer would put where the next chain object goes. */
  async function planted(metadata: (real: Record<string, string>) => Record<string, string>) {
    const { sink, ledger, store } = setup();
    await sink.handle(event(log.slice(0, 10)));
    // What the real next object would be: written by a throwaway sink on a copy of the state.
    const probe = setup();
    for (const [key, value] of ledger.entries) probe.ledger.entries.set(key, value);
    await probe.sink.handle(event(log.slice(10, 20)));
    const [key, real] = [...probe.store.objects.entries()][0]!;
    store.objects.set(key, { ...real, metadata: metadata({ ...real.metadata }) });
    return { sink, ledger, store, key };
  }

  const cases: Array<[string, (real: Record<string, string>) => Record<string, string>]> = [
    ['a record count its offset span cannot hold', (m) => ({ ...m, 'last-offset': '1000000', 'record-count': '1000002' })],
    ['a link to another committed offset', (m) => ({ ...m, 'after-offset': '3', 'last-offset': '1000000' })],
    ['an unknown format version', (m) => ({ ...m, 'format-version': '99' })],
    ['another format', (m) => ({ ...m, format: 'parquet' })],
    ['another topic', (m) => ({ ...m, topic: 'clicks' })],
  ];
  for (const [name, change] of cases) {
    it(`refuses ${name}: the partition fails with CorruptObjectError, counted, ledger unmoved`, async () => {
      const { ledger, store, key } = await planted(change);
      const metrics = new RecordingMetrics();
      const logger = new RecordingLogger();
      const sink = createSink({
        config: testConfig({ SINK_REPORT_BATCH_ITEM_FAILURES: 'true' }),
        ports: { ledger, store, clock: new ManualClock() },
        logger,
        metrics,
      });
      const response = await sink.handle(event(log.slice(10, 30)));
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: { partition: 'orders-0', offset: 10 } }]);
      expect(ledger.entries.get('orders/0')!.committedOffset).toBe(9);
      expect(metrics.get(SinkMetric.invalidObjects)).toBe(1);
      const failure = logger.entries.find((line) => line.level === 'error');
      expect(failure?.extra[0]).toMatchObject({ error: { name: CorruptObjectError.name } });
      expect(JSON.stringify(failure)).toContain(key.slice(0, key.lastIndexOf('/') + 1));
    });
  }

  it('still adopts a well-formed object left by a dead writer', async () => {
    const { sink, ledger, store } = await planted((m) => m);
    await sink.handle(event(log.slice(10, 15)));
    expect(ledger.entries.get('orders/0')!.committedOffset).toBe(19);
    expect(offsetsIn(store)).toEqual(log.slice(0, 20).map((record) => record.offset));
  });
});

describe('naming settings that change between a crash and its retry', () => {
  /** Runs a batch whose object lands but whose commit is lost (the process died in between). */
  async function crashAfterWrite(
    env: Record<string, string>,
    shared: { ledger: MemoryLedger; store: MemoryObjectStore },
    records: readonly LogRecord[],
  ) {
    const { ledger } = shared;
    const advance = ledger.advance.bind(ledger);
    let crashed = false;
    ledger.advance = async (expected, next) => {
      // Only the commit of the data object dies; declaring the naming goes through.
      if (!crashed && next.lastObjectKey !== null) {
        crashed = true;
        throw new Error('process died before the commit');
      }
      return advance(expected, next);
    };
    const { sink } = setup(env, shared);
    await expect(sink.handle(event(records))).rejects.toThrow();
    ledger.advance = advance;
  }

  const changes: Array<[string, Record<string, string>, Record<string, string>]> = [
    ['compression gzip → zstd', { SINK_COMPRESSION: 'gzip' }, { SINK_COMPRESSION: 'zstd' }],
    ['compression zstd → none', { SINK_COMPRESSION: 'zstd' }, { SINK_COMPRESSION: 'none' }],
    ['prefix', { SINK_PREFIX: 'topics/' }, { SINK_PREFIX: 'landing/' }],
    ['partitioner default → time', {}, { SINK_PARTITIONER: 'time' }],
    ['time zone', { SINK_PARTITIONER: 'time' }, { SINK_PARTITIONER: 'time', SINK_TIMEZONE: 'Asia/Kolkata' }],
  ];
  for (const [name, before, after] of changes) {
    for (const first of [true, false]) {
      it(`${name}, ${first ? 'on the first batch' : 'after earlier commits'}: every record once`, async () => {
        const shared = { ledger: new MemoryLedger(), store: new MemoryObjectStore() };
        if (!first) await setup(before, shared).sink.handle(event(log.slice(0, 10)));
        const start = first ? 0 : 10;
        await crashAfterWrite(before, shared, log.slice(start, start + 20));
        // The retry runs with the new settings and other boundaries.
        const retry = setup(after, shared);
        await retry.sink.handle(event(log.slice(start, start + 30)));
        await retry.sink.handle(event(log.slice(start + 30, start + 40)));
        expect(offsetsIn(shared.store)).toEqual(log.slice(0, start + 40).map((record) => record.offset));
        expect(shared.ledger.entries.get('orders/0')!.committedOffset).toBe(start + 39);
        expect(retry.metrics.get(SinkMetric.objectsAdopted)).toBe(1);
      });
    }
  }

  it('costs nothing extra while the settings stay the same', async () => {
    const { sink, ledger, store } = setup();
    await sink.handle(event(log.slice(0, 10)));
    const before = { reads: ledger.reads, writes: ledger.writes, heads: store.heads };
    await sink.handle(event(log.slice(10, 20)));
    expect({ reads: ledger.reads - before.reads, writes: ledger.writes - before.writes, heads: store.heads - before.heads }).toEqual({
      reads: 1,
      writes: 1,
      heads: 0,
    });
  });
});
