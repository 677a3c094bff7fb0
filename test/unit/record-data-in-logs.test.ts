import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { createLayout } from '../../lib/layout/layout.ts';
import { createSink } from '../../lib/sink/sink.ts';
import { testConfig } from '../support/config.ts';
import { ManualClock, MemoryLedger, MemoryObjectStore } from '../../testkit/memory-ports.ts';
import { RecordingLogger, RecordingMetrics } from '../../testkit/recorders.ts';

/**
 * Issue 14, item 6: record data never reaches logs or error messages. Unique tokens are planted
 * in poison values and in field values (that become key directories); none may appear in any
 * log line or in any error message (the thrown error, its causes, the partition reports').
 */

const T = Date.UTC(2026, 10, 26, 23, 47, 12);
/** Unique, and unchanged by percent-encoding, so that a key directory would show it as is. */
const token = (n: number) => `zq${n}TOKENx7${n}`;

function eventOf(records: ReadonlyArray<{ offset: number; value: string; timestamp?: number }>) {
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/c/00000000-0000-0000-0000-000000000000-1',
    records: {
      'orders-0': records.map((r) => ({
        topic: 'orders',
        partition: 0,
        offset: r.offset,
        timestamp: r.timestamp ?? T,
        timestampType: 'CREATE_TIME',
        value: Buffer.from(r.value, 'utf8').toString('base64'),
        headers: [],
      })),
    },
  };
}

/** Every message of an error, its causes and the partition reports it carries. */
function messagesOf(error: unknown): string {
  const seen: string[] = [];
  const walk = (e: unknown, depth: number): void => {
    if (!(e instanceof Error) || depth > 5) return;
    seen.push(e.name, e.message, String(e.stack));
    walk(e.cause, depth + 1);
    const failed = (e as { failed?: Array<{ error?: unknown }> }).failed;
    for (const report of failed ?? []) walk(report.error, depth + 1);
  };
  walk(error, 0);
  return seen.join('\n');
}

async function deliver(env: Record<string, string>, records: Parameters<typeof eventOf>[0]) {
  const ports = { ledger: new MemoryLedger(), store: new MemoryObjectStore(), clock: new ManualClock() };
  const logger = new RecordingLogger();
  const sink = createSink({ config: testConfig(env), ports, logger, metrics: new RecordingMetrics() });
  const error = await sink.handle(eventOf(records)).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { ports, logs: logger.text(), errors: messagesOf(error), error };
}

const scenarios: Array<{ name: string; env: Record<string, string>; records: Parameters<typeof eventOf>[0] }> = [
  {
    name: 'field partitioner: field values in keys, then values it cannot place',
    env: { SINK_PARTITIONER: 'field', SINK_PARTITION_FIELD: 'country' },
    records: [
      { offset: 1, value: JSON.stringify({ country: token(1) }) },
      { offset: 2, value: JSON.stringify({ country: `${token(2)}\ud800` }) },
      { offset: 3, value: JSON.stringify({ country: { nested: token(3) } }) },
      { offset: 4, value: JSON.stringify({ country: token(4).repeat(30) }) },
    ],
  },
  {
    name: 'time partitioner: a time field that is not a time',
    env: { SINK_PARTITIONER: 'time', SINK_TIMESTAMP_EXTRACTOR: 'RecordField', SINK_TIMESTAMP_FIELD: 'at' },
    records: [
      { offset: 1, value: JSON.stringify({ at: token(1) }) },
      { offset: 2, value: JSON.stringify({ at: `2026-11-26T${token(2)}` }) },
      { offset: 3, value: JSON.stringify({ at: 1.5, note: token(3) }) },
    ],
  },
  {
    name: 'Parquet with a schema: values of the wrong type',
    env: { SINK_FORMAT: 'parquet', SINK_PARQUET_SCHEMA: '{"a":"INT64","b":"BOOLEAN","c":"TIMESTAMP"}' },
    records: [
      { offset: 1, value: JSON.stringify({ a: token(1) }) },
      { offset: 2, value: JSON.stringify({ b: token(2) }) },
      { offset: 3, value: JSON.stringify({ c: token(3) }) },
      { offset: 4, value: `{"${token(4)}\\ud800":1}` },
    ],
  },
  {
    name: 'JSON Lines with value.converter=json: a value that is not JSON',
    env: { SINK_VALUE_CONVERTER: 'json' },
    records: [{ offset: 1, value: `not json ${token(1)}` }],
  },
  {
    name: 'raw bytes: a value holding the separator',
    env: { SINK_FORMAT: 'raw' },
    records: [{ offset: 1, value: `${token(1)}\n${token(1)}` }],
  },
];

describe('record data never reaches logs or error messages', () => {
  for (const scenario of scenarios) {
    for (const tolerance of ['none', 'all']) {
      it(`${scenario.name} (errors.tolerance=${tolerance})`, async () => {
        const env = { ...scenario.env, SINK_ERRORS_TOLERANCE: tolerance };
        // One record per batch, so that each poison record is met (none stops at the first).
        for (const record of scenario.records) {
          const { logs, errors, error } = await deliver(env, [record]);
          for (let n = 1; n <= 4; n++) {
            expect(logs).not.toContain(token(n));
            expect(errors).not.toContain(token(n));
          }
          expect(logs).toContain('orders-0'); // the logs still say where
          if (tolerance === 'none' && error !== undefined) expect(errors).toMatch(/orders-0@\d+/);
        }
      });
    }
  }

  it('logs the keys of field-partitioned objects with the field value redacted', async () => {
    const { logs, ports } = await deliver({ SINK_PARTITIONER: 'field', SINK_PARTITION_FIELD: 'country' }, [
      { offset: 7, value: JSON.stringify({ country: token(9) }) },
    ]);
    expect([...ports.store.objects.keys()]).toEqual([`topics/orders/country=${token(9)}/orders+0+00000000000000000007.jsonl.gz`]);
    expect(logs).toContain('topics/orders/country=*/orders+0+00000000000000000007.jsonl.gz');
    expect(logs).not.toContain(token(9));
  });
});

describe('an error naming a field-partitioned key', () => {
  it('is logged with the key redacted', async () => {
    const ports = { ledger: new MemoryLedger(), store: new MemoryObjectStore(), clock: new ManualClock() };
    const key = `topics/orders/country=${token(5)}/orders+0+00000000000000000001.jsonl.gz`;
    // An object already at the key, without the sink's metadata: the 412's adoption reads it and fails.
    ports.store.objects.set(key, { key, body: new Uint8Array(0), contentType: 'application/x-ndjson', metadata: {} });
    const logger = new RecordingLogger();
    const sink = createSink({
      config: testConfig({ SINK_PARTITIONER: 'field', SINK_PARTITION_FIELD: 'country' }),
      ports,
      logger,
      metrics: new RecordingMetrics(),
    });
    const error = await sink
      .handle(eventOf([{ offset: 1, value: JSON.stringify({ country: token(5) }) }]))
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    // The error Lambda logs (BatchDeliveryError, with the partition's CorruptObjectError) names the key redacted too.
    expect(messagesOf(error)).toContain('topics/orders/country=*/orders+0+00000000000000000001.jsonl.gz');
    expect(messagesOf(error)).not.toContain(token(5));
    expect(logger.text()).toContain('CorruptObjectError');
    expect(logger.text()).toContain('topics/orders/country=*/orders+0+00000000000000000001.jsonl.gz');
    expect(logger.text()).not.toContain(token(5));
  });
});

describe('Layout.redactKey', () => {
  const base = {
    pathFormat: undefined,
    partitionDurationMs: undefined,
    timestampExtractor: 'Record',
    timestampField: undefined,
    timezone: 'UTC',
  } as const;
  it('hides the directories a field value went into, and only those', () => {
    const layout = createLayout({
      ...base,
      partitioner: 'field',
      partitionField: 'c',
      pathFormat: 'x/{{topic}}-{{field}}/p={{partition}}',
    });
    expect(layout.redactKey('pre/fix/orders/x/orders-SECRET/p=3/orders+3+00000000000000000001.jsonl', 'pre/fix/')).toBe(
      'pre/fix/orders/x/*-*/p=3/orders+3+00000000000000000001.jsonl',
    );
    expect(layout.redactKey('pre/fix/orders/_unpartitioned/orders+3+00000000000000000001.jsonl', 'pre/fix/')).toBe(
      'pre/fix/orders/_unpartitioned/orders+3+00000000000000000001.jsonl',
    );
    expect(layout.redactKey('pre/fix/orders/a/b/c/d/orders+3+00000000000000000001.jsonl', 'pre/fix/')).toBe(
      'pre/fix/orders/*/orders+3+00000000000000000001.jsonl',
    );
    expect(layout.redactKey('elsewhere/SECRET', 'pre/fix/')).toBe('pre/fix/*');
  });

  it('leaves keys of layouts that take no value as they are', () => {
    const key = 'topics/orders/year=2026/month=11/day=26/hour=23/orders+0+00000000000000000001.jsonl';
    expect(createLayout({ ...base, partitioner: 'time', partitionField: undefined }).redactKey(key, 'topics/')).toBe(key);
  });
});
