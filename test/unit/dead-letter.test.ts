import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PoisonRecordError } from '../../lib/core/errors.ts';
import { encodeDeadLetter } from '../../lib/format/dead-letter.ts';
import type { KafkaRecord } from '../../lib/core/model.ts';

/** Reads a dead letter back into a record and its error. */
function decode(bytes: Uint8Array): { record: KafkaRecord; error: { name: string; message: string } } {
  const doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  const bin = (s: string | null) => (s === null ? null : new Uint8Array(Buffer.from(s, 'base64')));
  return {
    record: {
      topic: doc.topic,
      partition: doc.partition,
      offset: doc.offset,
      timestamp: doc.timestamp,
      timestampType: doc.timestampType,
      key: bin(doc.key),
      value: bin(doc.value),
      headers: doc.headers.map((h: { key: string; value: string }) => ({ key: h.key, value: bin(h.value)! })),
    },
    error: doc.error,
  };
}

const bytesOrNull = fc.option(fc.uint8Array({ maxLength: 50 }), { nil: null });
const recordArb: fc.Arbitrary<KafkaRecord> = fc.record({
  topic: fc.stringMatching(/^[a-zA-Z0-9._-]{1,20}$/),
  partition: fc.nat(1000),
  offset: fc.nat(Number.MAX_SAFE_INTEGER),
  timestamp: fc.option(fc.nat(2 ** 45), { nil: null }),
  timestampType: fc.option(fc.constantFrom('CREATE_TIME', 'LOG_APPEND_TIME'), { nil: null }),
  key: bytesOrNull,
  value: bytesOrNull,
  headers: fc.array(
    fc.record({
      key: fc.oneof(fc.string({ unit: 'binary', maxLength: 10 }), fc.constant('lone \ud800 surrogate')),
      value: fc.uint8Array({ maxLength: 20 }),
    }),
    { maxLength: 4 },
  ),
});

describe('encodeDeadLetter', () => {
  it('holds the record whole, in a stable layout, with the error', () => {
    const record: KafkaRecord = {
      topic: 'orders',
      partition: 2,
      offset: 7,
      timestamp: 1764115201000,
      timestampType: 'CREATE_TIME',
      key: null,
      value: Uint8Array.from([0xff, 0x00]),
      headers: [{ key: 'h', value: Uint8Array.from([1, 2, 3]) }],
    };
    const error = new PoisonRecordError(record, 'value is not valid UTF-8 (value.converter json)');
    const text = Buffer.from(encodeDeadLetter(record, error)).toString('utf8');
    expect(text).toBe(
      `${JSON.stringify(
        {
          topic: 'orders',
          partition: 2,
          offset: 7,
          timestamp: 1764115201000,
          timestampType: 'CREATE_TIME',
          key: null,
          value: '/wA=',
          headers: [{ key: 'h', value: 'AQID' }],
          error: {
            name: 'PoisonRecordError',
            message: 'Record orders-2@7 cannot be written: value is not valid UTF-8 (value.converter json)',
          },
        },
        null,
        2,
      )}\n`,
    );
  });

  it('keeps an empty value apart from a tombstone', () => {
    const base = { topic: 't', partition: 0, offset: 0, timestamp: null, timestampType: null, key: null, headers: [] };
    expect(decode(encodeDeadLetter({ ...base, value: null }, new Error('x'))).record.value).toBeNull();
    expect(decode(encodeDeadLetter({ ...base, value: new Uint8Array(0) }, new Error('x'))).record.value).toEqual(new Uint8Array(0));
  });

  it('property: lossless and deterministic for any record and error', () => {
    fc.assert(
      fc.property(recordArb, fc.string({ unit: 'binary' }), fc.string(), (record, message, name) => {
        const error = new Error(message);
        error.name = name;
        const bytes = encodeDeadLetter(record, error);
        expect(Buffer.from(encodeDeadLetter(record, error)).equals(Buffer.from(bytes))).toBe(true);
        const back = decode(bytes);
        expect(back.record).toEqual({
          ...record,
          key: record.key && new Uint8Array(record.key),
          value: record.value && new Uint8Array(record.value),
        });
        expect(back.error).toEqual({ name, message });
      }),
      { numRuns: 500 },
    );
  });
});
