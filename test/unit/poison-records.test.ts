import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/config.ts';
import { BatchDeliveryError } from '../../lib/delivery/deliver-batch.ts';
import { PoisonRecordError } from '../../lib/core/errors.ts';
import { createSink, SinkMetric } from '../../lib/sink/sink.ts';
import { testConfig } from '../support/config.ts';
import { ManualClock, MemoryLedger, MemoryObjectStore } from '../../testkit/memory-ports.ts';
import { RecordingLogger, RecordingMetrics } from '../../testkit/recorders.ts';

/**
 * Issue 14, item 1: no record's value or timestamp stalls a partition. Every per-record failure
 * while routing, naming or encoding is a poison record: dead-lettered with its reason under
 * errors.tolerance=all (the partition goes on), a typed PoisonRecordError naming topic,
 * partition, offset and field under none (what came before it is committed).
 */

const T = Date.UTC(2026, 10, 26, 23, 47, 12);

/** A record in the Lambda event's shape; `value` is the UTF-8 text of the value (null: tombstone). */
interface EventRecord {
  readonly offset: number;
  readonly value: string | null;
  /** Null: the record has no timestamp. */
  readonly timestamp: number | null;
}

const rec = (offset: number, value: string | null, timestamp: number | null = T): EventRecord => ({ offset, value, timestamp });

function eventOf(topic: string, partition: number, records: readonly EventRecord[]) {
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/c/00000000-0000-0000-0000-000000000000-1',
    records: {
      [`${topic}-${partition}`]: records.map((r) => ({
        topic,
        partition,
        offset: r.offset,
        ...(r.timestamp === null ? {} : { timestamp: r.timestamp }),
        timestampType: 'CREATE_TIME',
        ...(r.value === null ? {} : { value: Buffer.from(r.value, 'utf8').toString('base64') }),
        headers: [],
      })),
    },
  };
}

function world(env: Record<string, string>) {
  const ports = { ledger: new MemoryLedger(), store: new MemoryObjectStore(), clock: new ManualClock() };
  const logger = new RecordingLogger();
  const metrics = new RecordingMetrics();
  const sink = createSink({ config: testConfig(env), ports, logger, metrics });
  return { ...ports, logger, metrics, sink };
}

const FIELD = { SINK_PARTITIONER: 'field', SINK_PARTITION_FIELD: 'country' };
const ALL = { SINK_ERRORS_TOLERANCE: 'all' };

/** Runs a batch that must fail; returns the PoisonRecordError it failed with. */
async function poisonOf(promise: Promise<unknown>): Promise<PoisonRecordError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BatchDeliveryError);
  const cause = (error as BatchDeliveryError).failed[0]!.error;
  expect(cause).toBeInstanceOf(PoisonRecordError);
  return cause as PoisonRecordError;
}

describe('a record value can never stall a partition (field partitioner)', () => {
  const loneSurrogate = '{"country":"\\ud800"}'; // valid JSON text; JSON.parse gives a lone surrogate

  it('dead-letters a field that is a lone surrogate (errors.tolerance=all); the records around it are delivered', async () => {
    const w = world({ ...FIELD, ...ALL });
    await expect(
      w.sink.handle(eventOf('orders', 0, [rec(1, '{"country":"FR"}'), rec(2, loneSurrogate), rec(3, '{"country":"DE"}')])),
    ).resolves.toEqual({
      batchItemFailures: [],
    });
    const keys = [...w.store.objects.keys()].sort();
    expect(keys).toContain('dead-letters/orders/partition=0/orders+0+00000000000000000002.json');
    expect(keys).toContain('topics/orders/country=FR/orders+0+00000000000000000001.jsonl.gz');
    expect(keys).toContain('topics/orders/country=DE/orders+0+00000000000000000003.jsonl.gz');
    expect(w.ledger.entries.get('orders/0')!.committedOffset).toBe(3);
    expect(w.metrics.get(SinkMetric.deadLetters)).toBe(1);
    const letter = JSON.parse(
      Buffer.from(w.store.objects.get('dead-letters/orders/partition=0/orders+0+00000000000000000002.json')!.body).toString('utf8'),
    );
    expect(letter.error).toMatchObject({ name: 'PoisonRecordError' });
    expect(letter.error.message).toContain('not valid Unicode');
  });

  it('fails the batch with a typed error naming topic, partition, offset and field (errors.tolerance=none); the good record before is committed', async () => {
    const w = world(FIELD);
    const poison = await poisonOf(w.sink.handle(eventOf('orders', 0, [rec(1, '{"country":"FR"}'), rec(2, loneSurrogate)])));
    expect(poison).toMatchObject({ topic: 'orders', partition: 0, offset: 2, field: 'value.country' });
    expect(poison.message).toContain('orders-0@2');
    expect(w.ledger.entries.get('orders/0')!.committedOffset).toBe(1);
  });

  it('treats inherited property names as missing fields, not as values', async () => {
    const w = world({ SINK_PARTITIONER: 'field', SINK_PARTITION_FIELD: 'constructor' });
    const poison = await poisonOf(w.sink.handle(eventOf('orders', 0, [rec(1, '{"a":1}')])));
    expect(poison.message).toContain('field "constructor" is missing');
  });

  it("a key past S3's 1,024 bytes is a poison record, never a failed PUT", async () => {
    const topic = 't'.repeat(249);
    const prefix = 'p'.repeat(300);
    const env = { ...FIELD, ...ALL, SINK_PREFIX: prefix };
    const w = world(env);
    const long = 'x'.repeat(250); // under the 256-character field limit, but the key is ~1,100 bytes
    await w.sink.handle(
      eventOf(topic, 0, [rec(1, '{"country":"FR"}'), rec(2, JSON.stringify({ country: long })), rec(3, '{"country":"FR"}')]),
    );
    const keys = [...w.store.objects.keys()];
    for (const key of keys) expect(Buffer.byteLength(key)).toBeLessThanOrEqual(1024);
    expect(keys.filter((k) => k.startsWith('dead-letters/'))).toHaveLength(1);
    expect(w.ledger.entries.get(`${topic}/0`)!.committedOffset).toBe(3);

    const strict = world({ ...FIELD, SINK_PREFIX: prefix });
    const poison = await poisonOf(strict.sink.handle(eventOf(topic, 0, [rec(2, JSON.stringify({ country: long }))])));
    expect(poison.message).toMatch(/object key would be \d+ bytes/);
    expect(poison.field).toBe('value.country');
  });
});

describe('a record timestamp can never stall a partition (time partitioner)', () => {
  for (const timezone of ['UTC', 'Europe/Paris']) {
    it(`dead-letters a timestamp outside the years 0000-9999 (${timezone}); no key holds NaN`, async () => {
      const w = world({ SINK_PARTITIONER: 'time', SINK_TIMEZONE: timezone, ...ALL });
      await w.sink.handle(eventOf('orders', 0, [rec(1, '{}'), rec(2, '{}', 9e15), rec(3, '{}', -9e15), rec(4, '{}', 1e20), rec(5, '{}')]));
      const keys = [...w.store.objects.keys()];
      for (const key of keys) expect(key).not.toMatch(/NaN|undefined|Invalid|year=0NaN|year=\d{5}/);
      expect(keys.filter((k) => k.startsWith('dead-letters/'))).toHaveLength(3);
      expect(w.ledger.entries.get('orders/0')!.committedOffset).toBe(5);

      const strict = world({ SINK_PARTITIONER: 'time', SINK_TIMEZONE: timezone });
      const poison = await poisonOf(strict.sink.handle(eventOf('orders', 0, [rec(1, '{}'), rec(2, '{}', 9e15)])));
      expect(poison).toMatchObject({ topic: 'orders', partition: 0, offset: 2, field: 'timestamp' });
      expect(strict.ledger.entries.get('orders/0')!.committedOffset).toBe(1);
    });
  }

  it('places negative, fractional and pre-1970 record times; a missing one is poison', async () => {
    const w = world({ SINK_PARTITIONER: 'time', SINK_TIMEZONE: 'Asia/Kolkata', ...ALL });
    await w.sink.handle(
      eventOf('orders', 0, [rec(1, '{}', -1), rec(2, '{}', T + 0.5), rec(3, '{}', Date.UTC(1950, 0, 1)), rec(4, '{}', null)]),
    );
    const keys = [...w.store.objects.keys()].sort();
    // The poison record closes the 1950 object's range (a record without a path never cuts one).
    expect(keys).toEqual([
      'dead-letters/orders/partition=0/orders+0+00000000000000000004.json',
      'topics/orders/year=1950/month=01/day=01/hour=05/orders+0+00000000000000000003.jsonl.gz',
      'topics/orders/year=1970/month=01/day=01/hour=05/orders+0+00000000000000000001.jsonl.gz',
      'topics/orders/year=2026/month=11/day=27/hour=05/orders+0+00000000000000000002.jsonl.gz',
    ]);
  });

  it('dead-letters a RecordField time outside the years 0000-9999 (ISO year 10000 is not ISO-8601 here; epoch ms)', async () => {
    const w = world({
      SINK_PARTITIONER: 'time',
      SINK_TIMESTAMP_EXTRACTOR: 'RecordField',
      SINK_TIMESTAMP_FIELD: 'at',
      SINK_TIMEZONE: 'Europe/Paris',
      ...ALL,
    });
    await w.sink.handle(
      eventOf('orders', 0, [rec(1, `{"at":${T}}`), rec(2, '{"at":8640000000000000}'), rec(3, '{"at":1.5}'), rec(4, `{"at":${T}}`)]),
    );
    expect([...w.store.objects.keys()].filter((k) => k.startsWith('dead-letters/'))).toHaveLength(2);
    expect(w.ledger.entries.get('orders/0')!.committedOffset).toBe(4);
  });
});

describe('formats: a weird record is poison, never a failed chunk', () => {
  it('Parquet: a fractional timestamp, a lone surrogate string and a value nested too deep are dead letters', async () => {
    const w = world({ SINK_FORMAT: 'parquet', ...ALL });
    const deep = `{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    await expect(
      w.sink.handle(
        eventOf('orders', 0, [rec(1, '{"a":1}'), rec(2, '{"a":2}', T + 0.5), rec(3, '{"s":"\\udc00"}'), rec(4, deep), rec(5, '{"a":5}')]),
      ),
    ).resolves.toEqual({ batchItemFailures: [] });
    const keys = [...w.store.objects.keys()];
    expect(keys.filter((k) => k.startsWith('dead-letters/')).sort()).toEqual(
      [2, 3, 4].map((o) => `dead-letters/orders/partition=0/orders+0+${String(o).padStart(20, '0')}.json`),
    );
    expect(w.ledger.entries.get('orders/0')!.committedOffset).toBe(5);
  });

  it('Parquet: a partition number past INT32 (an event Kafka cannot send, but the event schema takes) is poison', async () => {
    const w = world({ SINK_FORMAT: 'parquet', ...ALL });
    await expect(w.sink.handle(eventOf('orders', 2 ** 40, [rec(1, '{"a":1}')]))).resolves.toEqual({ batchItemFailures: [] });
    expect([...w.store.objects.keys()].filter((k) => k.startsWith('dead-letters/'))).toHaveLength(1);
  });

  it('Parquet with a configured schema: a STRING column value nested too deep is a dead letter', async () => {
    const w = world({ SINK_FORMAT: 'parquet', SINK_PARQUET_SCHEMA: '{"a":"STRING"}', ...ALL });
    const deep = `{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    await w.sink.handle(eventOf('orders', 0, [rec(1, '{"a":"x"}'), rec(2, deep), rec(3, '{"a":"y"}')]));
    expect([...w.store.objects.keys()].filter((k) => k.startsWith('dead-letters/'))).toHaveLength(1);
    expect(w.ledger.entries.get('orders/0')!.committedOffset).toBe(3);
  });
});

describe('raw bytes: a batch of tombstones only', () => {
  it('is delivered (an object covering their offsets, no record in it), not failed with an empty error', async () => {
    for (const env of [{}, { SINK_PARTITIONER: 'time' }] as Array<Record<string, string>>) {
      const w = world({ SINK_FORMAT: 'raw', ...env });
      await expect(w.sink.handle(eventOf('orders', 0, [rec(1, null), rec(2, null)]))).resolves.toEqual({ batchItemFailures: [] });
      expect(w.ledger.entries.get('orders/0')!.committedOffset).toBe(2);
    }
  });
});

describe('key length: prefixes that could make a dead letter or an _unpartitioned object unwritable are configuration errors', () => {
  const required = { SINK_BUCKET: 'my-sink-bucket', LEDGER_TABLE: 'sink-ledger' };
  it('rejects prefixes that would leave a dead letter or an _unpartitioned object unwritable for a long topic name', () => {
    expect(() => loadConfig({ ...required, SINK_DEAD_LETTER_PREFIX: `${'d'.repeat(459)}/` })).toThrow(
      /SINK_DEAD_LETTER_PREFIX: 460 bytes; at most \d+,/,
    );
    expect(() => loadConfig({ ...required, SINK_PREFIX: `${'p'.repeat(459)}/` })).toThrow(/SINK_PREFIX: 460 bytes; at most \d+,/);
    expect(() => loadConfig({ ...required, SINK_PREFIX: 'p'.repeat(300), SINK_DEAD_LETTER_PREFIX: 'd'.repeat(300) })).not.toThrow();
  });
});
