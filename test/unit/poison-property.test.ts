import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchDeliveryError } from '../../lib/delivery/deliver-batch.ts';
import { PoisonRecordError } from '../../lib/core/errors.ts';
import { createLayout } from '../../lib/layout/layout.ts';
import { fromMetadata } from '../../lib/layout/object-metadata.ts';
import { createSink } from '../../lib/sink/sink.ts';
import { testConfig } from '../support/config.ts';
import { ManualClock, MemoryLedger, MemoryObjectStore } from '../../testkit/memory-ports.ts';
import { silentLogger, silentMetrics } from '../../testkit/recorders.ts';

/**
 * Property (issue 14, item 1): no field value and no timestamp stalls a partition. Over random
 * layouts (field and time partitioners, record or field time, zones with odd offsets), formats
 * and records (any JSON, any Unicode, lone surrogates, bytes; timestamps negative, huge,
 * fractional, missing), on the in-memory ports:
 *
 * - errors.tolerance=all: the batch succeeds, the ledger reaches its last offset, and every
 *   record is in an object or a dead letter;
 * - errors.tolerance=none: the batch succeeds, or fails with a PoisonRecordError at exactly its
 *   first undelivered offset, everything before it committed;
 * - no key holds NaN, undefined or Invalid, and none passes 1,024 bytes.
 */

const T = Date.UTC(2026, 10, 26, 23, 47, 12);

const loneSurrogates = fc.constantFrom('\ud800', '\udfff', 'a\udc00b', '\ud83d', 'x\ud83d\ude00\ud800');
const fieldValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue(),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 300 }),
  loneSurrogates,
  fc.double(),
  fc.constantFrom('.', '..', '', '_unpartitioned', 'a/b', 'x'.repeat(256), '%2F', 'NaN', 'undefined'),
);
const timeFieldValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: -9e15, max: 9e15 }),
  fc.double(),
  fc.constantFrom('2026-11-26T21:05:00+01:00', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2026-02-30T00:00:00Z', '2026-11-26'),
  fc.string({ maxLength: 10 }),
  fieldValue,
);
/** A value's bytes: JSON with the fields the layouts read, any JSON, text, bytes, or a tombstone. */
const valueBytes: fc.Arbitrary<Buffer | null> = fc.oneof(
  fc.record({ f: fieldValue, at: timeFieldValue }, { requiredKeys: [] }).map((object) => Buffer.from(JSON.stringify(object), 'utf8')),
  fc.jsonValue().map((value) => Buffer.from(JSON.stringify(value) ?? 'null', 'utf8')),
  fc.string({ unit: 'binary', maxLength: 20 }).map((text) => Buffer.from(text, 'utf8')),
  fc.uint8Array({ maxLength: 20 }).map((bytes) => Buffer.from(bytes)),
  fc.constant(null),
);
const timestamp: fc.Arbitrary<number | null> = fc.oneof(
  fc.constant(T),
  fc.integer({ min: -9e15, max: 9e15 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(
    null,
    -1,
    0,
    T + 0.5,
    8.64e15,
    -8.64e15,
    9e15,
    1e20,
    -62_167_219_200_001,
    -62_167_219_200_000,
    253_402_300_799_999,
    253_402_300_800_000,
  ),
);
const layoutEnv: fc.Arbitrary<Record<string, string>> = fc.oneof(
  fc.record({
    SINK_PARTITIONER: fc.constant('field'),
    SINK_PARTITION_FIELD: fc.constantFrom('f', 'constructor'),
    SINK_PATH_FORMAT: fc.constantFrom('f={{field}}', '{{field}}', 'x/{{topic}}-{{field}}/p={{partition}}'),
  }),
  fc
    .record({
      SINK_PARTITIONER: fc.constant('time'),
      SINK_TIMEZONE: fc.constantFrom('UTC', 'Europe/Paris', 'Asia/Kolkata', 'America/St_Johns', 'Pacific/Chatham', 'Pacific/Kiritimati'),
      SINK_PATH_FORMAT: fc.constantFrom(
        "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH",
        'dt={{timestamp:unit=yyyy}}-{{timestamp:unit=MM}}-{{timestamp:unit=dd}}/m={{timestamp:unit=mm}}',
      ),
      time: fc.constantFrom<Record<string, string>>({}, { SINK_TIMESTAMP_EXTRACTOR: 'RecordField', SINK_TIMESTAMP_FIELD: 'at' }),
    })
    .map(({ time, ...env }) => ({ ...env, ...time })),
);
const formatEnv = fc.constantFrom<Record<string, string>>(
  {},
  { SINK_FORMAT: 'raw' },
  { SINK_FORMAT: 'parquet' },
  { SINK_VALUE_CONVERTER: 'json' },
);

interface Drawn {
  readonly layout: Record<string, string>;
  readonly format: Record<string, string>;
  readonly prefix: string;
  readonly records: ReadonlyArray<{
    readonly timestamp: number | null;
    readonly value: Buffer | null;
    readonly key: Buffer | null;
    readonly headers: ReadonlyArray<Record<string, number[]>>;
  }>;
}

const drawn: fc.Arbitrary<Drawn> = fc.record({
  layout: layoutEnv,
  format: formatEnv,
  // A long prefix with a long topic puts field-partitioned keys near S3's limit.
  prefix: fc.constantFrom('topics/', `${'p'.repeat(400)}/`),
  records: fc.array(
    fc.record({
      timestamp,
      value: valueBytes,
      key: valueBytes,
      // Header names are any string a JSON event can carry (lone surrogates too), values any bytes.
      headers: fc.array(
        fc.dictionary(fc.string({ unit: 'binary', maxLength: 8 }), fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 8 }), {
          minKeys: 1,
          maxKeys: 1,
        }),
        {
          maxLength: 2,
        },
      ),
    }),
    { minLength: 1, maxLength: 10 },
  ),
});

const TOPIC = `t.${'x'.repeat(200)}`;

function eventOf(records: Drawn['records']) {
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/c/00000000-0000-0000-0000-000000000000-1',
    records: {
      [`${TOPIC}-0`]: records.map((r, index) => ({
        topic: TOPIC,
        partition: 0,
        offset: 10 + index * 2,
        ...(r.timestamp === null ? {} : { timestamp: r.timestamp }),
        timestampType: 'CREATE_TIME',
        ...(r.value === null ? {} : { value: r.value.toString('base64') }),
        ...(r.key === null ? {} : { key: r.key.toString('base64') }),
        headers: r.headers,
      })),
    },
  };
}

function run(d: Drawn, tolerance: 'all' | 'none') {
  const ports = { ledger: new MemoryLedger(), store: new MemoryObjectStore(), clock: new ManualClock() };
  const env = { ...d.layout, ...d.format, SINK_PREFIX: d.prefix, SINK_ERRORS_TOLERANCE: tolerance };
  const config = testConfig(env);
  const sink = createSink({ config, ports, logger: silentLogger, metrics: silentMetrics });
  const checkKeys = () => {
    const layout = createLayout(config.layout!);
    for (const key of ports.store.objects.keys()) {
      // A field value may be the text "NaN" (the user's data); the rest of a key never is.
      expect(layout.redactKey(key, config.prefix)).not.toMatch(/NaN|undefined|Invalid/);
      expect(Buffer.byteLength(key)).toBeLessThanOrEqual(1024);
    }
  };
  return { ports, checkKeys, result: sink.handle(eventOf(d.records)) };
}

describe('property: no field value or timestamp stalls a partition', () => {
  it('errors.tolerance=all delivers every record to an object or a dead letter', async () => {
    await fc.assert(
      fc.asyncProperty(drawn, async (d) => {
        const { ports, checkKeys, result } = run(d, 'all');
        await expect(result).resolves.toEqual({ batchItemFailures: [] });
        checkKeys();
        const last = 10 + (d.records.length - 1) * 2;
        expect(ports.ledger.entries.get(`${TOPIC}/0`)!.committedOffset).toBe(last);
        let inObjects = 0;
        const deadLetters = new Set<number>();
        for (const [key, object] of ports.store.objects) {
          if (key.startsWith('dead-letters/')) deadLetters.add(Number(/\+(\d{20})\.json$/.exec(key)![1]));
          else inObjects += fromMetadata(key, object.metadata).recordCount;
        }
        // Every record not dead-lettered is in an object; raw bytes leave tombstones out of an
        // object's records (its range still covers them).
        const raw = d.format['SINK_FORMAT'] === 'raw';
        const expected = d.records.filter((r, index) => !deadLetters.has(10 + index * 2) && !(raw && r.value === null)).length;
        expect(inObjects).toBe(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('errors.tolerance=none stops at the poison record with a typed error, everything before it committed', async () => {
    await fc.assert(
      fc.asyncProperty(drawn, async (d) => {
        const { ports, checkKeys, result } = run(d, 'none');
        const error = await result.then(
          () => undefined,
          (e: unknown) => e,
        );
        checkKeys();
        expect([...ports.store.objects.keys()].filter((key) => key.startsWith('dead-letters/'))).toEqual([]);
        const committed = ports.ledger.entries.get(`${TOPIC}/0`)?.committedOffset ?? -1;
        if (error === undefined) {
          expect(committed).toBe(10 + (d.records.length - 1) * 2);
          return;
        }
        expect(error).toBeInstanceOf(BatchDeliveryError);
        const [report] = (error as BatchDeliveryError).failed;
        expect(report!.error).toBeInstanceOf(PoisonRecordError);
        const poison = report!.error as PoisonRecordError;
        expect(poison).toMatchObject({ topic: TOPIC, partition: 0, offset: report!.firstUndeliveredOffset });
        expect(committed).toBe(poison.offset === 10 ? -1 : poison.offset - 2);
      }),
      { numRuns: 200 },
    );
  });
});
