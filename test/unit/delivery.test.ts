import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BatchDeliveryError } from '../../lib/delivery/deliver-batch.ts';
import { MalformedEventError } from '../../lib/core/errors.ts';
import { toMetadata } from '../../lib/layout/object-metadata.ts';
import type { NewObject } from '../../lib/core/ports.ts';
import { createSink, SinkMetric } from '../../lib/sink/sink.ts';
import { testConfig } from '../support/config.ts';
import { generateLog } from '../../testkit/kafka/generate.ts';
import { type LogRecord, rng } from '../../testkit/kafka/records.ts';
import { toKafkaEvent } from '../../testkit/kafka/events.ts';
import { ManualClock, MemoryLedger, MemoryObjectStore } from '../../testkit/memory-ports.ts';
import { RecordingLogger, RecordingMetrics } from '../../testkit/recorders.ts';

function setup(env: Record<string, string> = {}) {
  const ledger = new MemoryLedger();
  const store = new MemoryObjectStore();
  const clock = new ManualClock();
  const logger = new RecordingLogger();
  const metrics = new RecordingMetrics();
  const sink = createSink({ config: testConfig(env), ports: { ledger, store, clock }, logger, metrics });
  return { ledger, store, clock, logger, metrics, sink };
}

const log = generateLog({ topic: 'orders.v1_eu-west', partition: 3, count: 40, random: rng(7), textRate: 0 });
const otherLog = generateLog({ topic: 'clicks', partition: 0, count: 10, random: rng(8), textRate: 0 });

function lines(object: NewObject): Array<Record<string, unknown>> {
  const text = gunzipSync(object.body).toString('utf8');
  return text
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line));
}

function offsetsIn(store: MemoryObjectStore, prefix = 'topics/'): number[] {
  return [...store.objects.values()]
    .filter((object) => object.key.startsWith(prefix))
    .flatMap((object) => lines(object).map((line) => Number(line['offset'])));
}

describe('delivery protocol (in-memory ports)', () => {
  it('writes one object per partition and commits its last offset with an audit trail', async () => {
    const { sink, store, ledger, metrics } = setup();
    const slice = log.slice(0, 10);
    await expect(sink.handle(toKafkaEvent([{ topic: log[0]!.topic, partition: 3, records: slice }]))).resolves.toEqual({
      batchItemFailures: [],
    });
    const key = `topics/orders.v1_eu-west/partition=3/orders.v1_eu-west+3+${String(slice[0]!.offset).padStart(20, '0')}.jsonl.gz`;
    expect([...store.objects.keys()]).toEqual([key]);
    expect(store.objects.get(key)!.metadata).toEqual(
      toMetadata({
        topic: 'orders.v1_eu-west',
        partition: 3,
        generation: 0,
        afterOffset: -1,
        firstOffset: slice[0]!.offset,
        lastOffset: slice.at(-1)!.offset,
        recordCount: 10,
        minTimestamp: slice[0]!.timestamp,
        maxTimestamp: slice.at(-1)!.timestamp,
        format: 'jsonl',
        formatVersion: '1',
      }),
    );
    expect(offsetsIn(store)).toEqual(slice.map((record) => record.offset));
    const entry = ledger.entries.get('orders.v1_eu-west/3')!;
    expect(entry).toMatchObject({ generation: 0, committedOffset: slice.at(-1)!.offset, lastObjectKey: key, lastRecordCount: 10 });
    expect(entry.updatedAt).toBe('2026-11-26T00:00:00.000Z');
    // A partition's first delivery: one ledger read, two ledger writes (the naming settings are
    // recorded before the first object, then the commit), one PUT. Later batches cost one write
    // (delivery-edges.test.ts).
    expect({ reads: ledger.reads, writes: ledger.writes, puts: store.puts, heads: store.heads }).toEqual({
      reads: 1,
      writes: 2,
      puts: 1,
      heads: 0,
    });
    expect(entry.naming).toBe(
      JSON.stringify({
        prefix: 'topics/',
        format: 'jsonl',
        formatVersion: '1',
        extension: '.jsonl.gz',
        layout: { partitioner: 'default', timestampExtractor: 'Record', timezone: 'UTC' },
      }),
    );
    expect(metrics.get(SinkMetric.recordsDelivered)).toBe(10);
    expect(metrics.get(SinkMetric.objectsWritten)).toBe(1);
  });

  it('skips what is committed when a batch comes again, with the same or other boundaries', async () => {
    const { sink, store, metrics } = setup();
    const event = (records: readonly LogRecord[]) => toKafkaEvent([{ topic: log[0]!.topic, partition: 3, records }]);
    await sink.handle(event(log.slice(0, 10)));
    await sink.handle(event(log.slice(0, 10)));
    expect(store.objects.size).toBe(1);
    expect(metrics.get(SinkMetric.duplicatesSkipped)).toBe(10);
    await sink.handle(event(log.slice(5, 25)));
    expect(store.objects.size).toBe(2);
    expect(metrics.get(SinkMetric.duplicatesSkipped)).toBe(15);
    expect(offsetsIn(store)).toEqual(log.slice(0, 25).map((record) => record.offset));
  });

  it('adopts an object left by a dead writer (412) that reaches past the batch, writing nothing', async () => {
    const dead = setup();
    await dead.sink.handle(toKafkaEvent([{ topic: log[0]!.topic, partition: 3, records: log.slice(0, 30) }]));
    const [key, object] = [...dead.store.objects.entries()][0]!;
    // The dead writer's object landed; its ledger write did not.
    const { sink, store, ledger, metrics } = setup();
    store.objects.set(key, object);
    await sink.handle(toKafkaEvent([{ topic: log[0]!.topic, partition: 3, records: log.slice(0, 12) }]));
    expect(store.objects.size).toBe(1);
    expect(ledger.entries.get('orders.v1_eu-west/3')!.committedOffset).toBe(log[29]!.offset);
    expect(metrics.get(SinkMetric.objectsAdopted)).toBe(1);
    expect(metrics.get(SinkMetric.objectsWritten)).toBe(0);
  });

  it('adopts a shorter existing object and writes the rest after it', async () => {
    const dead = setup();
    await dead.sink.handle(toKafkaEvent([{ topic: log[0]!.topic, partition: 3, records: log.slice(0, 5) }]));
    const { sink, store } = setup();
    for (const [key, object] of dead.store.objects) store.objects.set(key, object);
    await sink.handle(toKafkaEvent([{ topic: log[0]!.topic, partition: 3, records: log.slice(0, 20) }]));
    expect(store.objects.size).toBe(2);
    expect(offsetsIn(store)).toEqual(log.slice(0, 20).map((record) => record.offset));
  });

  it('lets a writer that lost the ledger race to a further commit finish without going back', async () => {
    const { sink, ledger, store } = setup();
    const topic = log[0]!.topic;
    await sink.handle(toKafkaEvent([{ topic, partition: 3, records: log.slice(0, 5) }]));
    // Another writer commits further between this writer's read and its commit.
    const originalRead = ledger.read.bind(ledger);
    let first = true;
    ledger.read = async (t, p) => {
      const entry = await originalRead(t, p);
      if (first) {
        first = false;
        ledger.entries.set(`${t}/${p}`, {
          ...entry!,
          committedOffset: log[30]!.offset,
          lastObjectKey: 'other',
          lastRecordCount: 31,
          updatedAt: 'x',
        });
      }
      return entry;
    };
    await sink.handle(toKafkaEvent([{ topic, partition: 3, records: log.slice(0, 10) }]));
    expect(ledger.entries.get(`${topic}/3`)!.committedOffset).toBe(log[30]!.offset);
    expect(store.objects.size).toBe(2);
  });

  it('stops a partition whose ledger was reset during delivery', async () => {
    const { sink, ledger, logger } = setup({ SINK_REPORT_BATCH_ITEM_FAILURES: 'true' });
    const topic = log[0]!.topic;
    const originalRead = ledger.read.bind(ledger);
    let reads = 0;
    ledger.read = async (t, p) => {
      const entry = await originalRead(t, p);
      if (reads++ === 0) ledger.reset(t, p, 4);
      return entry;
    };
    const response = await sink.handle(toKafkaEvent([{ topic, partition: 3, records: log.slice(0, 10) }]));
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: { partition: `${topic}-3`, offset: log[0]!.offset } }]);
    expect(ledger.entries.get(`${topic}/3`)).toMatchObject({ generation: 1, committedOffset: 4 });
    expect(logger.entries.find((entry) => entry.level === 'error')?.extra[0]).toMatchObject({
      error: { name: 'LedgerResetError' },
    });
  });

  it('rejects a malformed event whole: nothing written, nothing committed', async () => {
    const { sink, store, ledger, metrics, logger } = setup();
    const event = toKafkaEvent([
      { topic: 'clicks', partition: 0, records: otherLog },
      { topic: log[0]!.topic, partition: 3, records: log.slice(0, 3) },
    ]);
    (event.records[`${log[0]!.topic}-3`]![1] as { offset: unknown }).offset = -1;
    await expect(sink.handle(event)).rejects.toThrow(MalformedEventError);
    await expect(sink.handle(event)).rejects.toThrow(`records["${log[0]!.topic}-3"][1].offset`);
    expect(store.objects.size).toBe(0);
    expect(ledger.entries.size).toBe(0);
    expect(ledger.reads).toBe(0);
    expect(metrics.get(SinkMetric.malformedEvents)).toBe(2);
    expect(logger.entries.at(-1)).toMatchObject({ level: 'error', extra: [{ issues: [expect.stringContaining('offset')] }] });
  });

  describe('poison records', () => {
    const topic = 'payments';
    const records = generateLog({ topic, partition: 0, count: 6, random: rng(3), textRate: 0 }).map((record, index) =>
      index === 3 ? { ...record, kind: 'poison' as const, value: Buffer.from('not json') } : record,
    );

    it('errors.tolerance=none: commits what precedes the poison record, fails the invocation, other partitions go on', async () => {
      const { sink, store, ledger } = setup({ SINK_VALUE_CONVERTER: 'json' });
      const event = toKafkaEvent([
        { topic, partition: 0, records },
        { topic: 'clicks', partition: 0, records: otherLog },
      ]);
      const error = await sink.handle(event).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(BatchDeliveryError);
      expect((error as BatchDeliveryError).message).toContain(`payments-0 from offset ${records[3]!.offset}`);
      expect(ledger.entries.get('payments/0')!.committedOffset).toBe(records[2]!.offset);
      expect(ledger.entries.get('clicks/0')!.committedOffset).toBe(otherLog.at(-1)!.offset);
      expect(offsetsIn(store, 'topics/payments/')).toEqual(records.slice(0, 3).map((record) => record.offset));
      expect([...store.objects.keys()].some((key) => key.startsWith('dead-letters/'))).toBe(false);
      // Redelivered: it stops at the same place and writes nothing new.
      await expect(sink.handle(event)).rejects.toThrow(BatchDeliveryError);
      expect(store.objects.size).toBe(2);
    });

    it('errors.tolerance=none with partial batch responses reports the poison offset', async () => {
      const { sink } = setup({ SINK_VALUE_CONVERTER: 'json', SINK_REPORT_BATCH_ITEM_FAILURES: 'true' });
      const response = await sink.handle(toKafkaEvent([{ topic, partition: 0, records }]));
      expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: { partition: 'payments-0', offset: records[3]!.offset } }] });
    });

    it('errors.tolerance=all: dead-letters the record whole, once, and delivers the rest', async () => {
      const { sink, store, ledger, metrics } = setup({ SINK_VALUE_CONVERTER: 'json', SINK_ERRORS_TOLERANCE: 'all' });
      const event = toKafkaEvent([{ topic, partition: 0, records }]);
      await sink.handle(event);
      await sink.handle(event);
      const deadKey = `dead-letters/payments/partition=0/payments+0+${String(records[3]!.offset).padStart(20, '0')}.json`;
      expect([...store.objects.keys()].filter((key) => key.startsWith('dead-letters/'))).toEqual([deadKey]);
      const letter = JSON.parse(Buffer.from(store.objects.get(deadKey)!.body).toString('utf8'));
      expect(Buffer.from(letter.value, 'base64').toString()).toBe('not json');
      expect(letter.error.name).toBe('PoisonRecordError');
      expect(offsetsIn(store)).toEqual(records.filter((_, index) => index !== 3).map((record) => record.offset));
      expect(ledger.entries.get('payments/0')!.committedOffset).toBe(records.at(-1)!.offset);
      expect(metrics.get(SinkMetric.deadLetters)).toBe(1);
    });
  });

  it('delivers the partitions of a batch concurrently, each partition in order', async () => {
    const { sink, store } = setup();
    let inFlight = 0;
    let maxInFlight = 0;
    const put = store.putIfAbsent.bind(store);
    store.putIfAbsent = async (object) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight -= 1;
      return put(object);
    };
    await sink.handle(
      toKafkaEvent([
        { topic: log[0]!.topic, partition: 3, records: log },
        { topic: 'clicks', partition: 0, records: otherLog },
      ]),
    );
    expect(maxInFlight).toBe(2);
  });

  it('logs topic, partition, offsets and keys, never record values', async () => {
    const { sink, logger } = setup();
    await sink.handle(toKafkaEvent([{ topic: log[0]!.topic, partition: 3, records: log.slice(0, 5) }]));
    expect(logger.text()).toContain('orders.v1_eu-west-3');
    expect(logger.text()).toContain('.jsonl.gz');
    expect(logger.text()).not.toContain('nested');
    expect(logger.text()).not.toContain('key-');
  });
});
