/**
 * The JSON Lines writer (bytes straight into a buffer) against the reference: the string
 * encoder it replaced, kept here verbatim. Same bytes for every record, in both value converters,
 * poison records included.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PoisonRecordError } from '../../lib/core/errors.ts';
import { createJsonLinesFormat } from '../../lib/format/json-lines.ts';
import { toCompactJson } from '../../lib/format/json-text.ts';
import type { KafkaRecord } from '../../lib/core/model.ts';

// ---- The reference: the string-based encoder (lib/format/json-lines.ts before the writer) ----

function view(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
function decodeUtf8(bytes: Uint8Array): string | undefined {
  const buffer = view(bytes);
  return isUtf8(buffer) ? buffer.toString('utf8') : undefined;
}
function bytesJson(bytes: Uint8Array | null, marker: string): string {
  if (bytes === null) return 'null';
  const text = decodeUtf8(bytes);
  if (text === undefined) return `"${view(bytes).toString('base64')}","${marker}":"base64"`;
  return toCompactJson(text) ?? JSON.stringify(text);
}
const quote = (s: string): string => JSON.stringify(s);
function numberJson(n: number | null): string {
  return n !== null && Number.isFinite(n) ? String(n) : 'null';
}
function referenceEncoder(strictJson: boolean) {
  const valueJson = (record: KafkaRecord): string => {
    const value = record.value;
    if (!strictJson || value === null) return bytesJson(value, 'valueEncoding');
    const text = decodeUtf8(value);
    if (text === undefined) throw new PoisonRecordError(record, 'value is not valid UTF-8 (value.converter json)');
    const json = toCompactJson(text);
    if (json === undefined) throw new PoisonRecordError(record, 'value is not valid JSON (value.converter json)');
    return json;
  };
  return {
    encodeRecord(record: KafkaRecord): string {
      let headers = '';
      for (const header of record.headers) {
        headers += `${headers === '' ? '' : ','}{"key":${JSON.stringify(header.key)},"value":${bytesJson(header.value, 'encoding')}}`;
      }
      return (
        `{"topic":${quote(record.topic)}` +
        `,"partition":${numberJson(record.partition)}` +
        `,"offset":${numberJson(record.offset)}` +
        `,"timestamp":${numberJson(record.timestamp)}` +
        `,"timestampType":${record.timestampType === null ? 'null' : quote(record.timestampType)}` +
        `,"key":${bytesJson(record.key, 'keyEncoding')}` +
        `,"value":${valueJson(record)}` +
        `,"headers":[${headers}]}`
      );
    },
    join(encoded: readonly string[]): Uint8Array {
      if (encoded.length === 0) return new Uint8Array(0);
      return Buffer.from(`${encoded.join('\n')}\n`, 'utf8');
    },
  };
}

// ---- Arbitraries: records of every kind, including values outside what the parser produces ----

const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const anyString = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 8 }), // lone surrogates too
);
const tricky = [
  [0xef, 0xbb, 0xbf, 0x41],
  [0xed, 0xa0, 0x80],
  [0xc0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98, 0x80],
  [0x80],
  [0xc3, 0xa9],
];
/** Bytes of every kind, at an offset inside a larger buffer or not, Buffer or plain Uint8Array. */
const bytes: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.oneof(
      fc.json().map(utf8),
      fc
        .tuple(fc.json(), fc.constantFrom(1, 2, '\t', ' \r\n '))
        .map(([j, indent]) => utf8(` ${JSON.stringify(JSON.parse(j), null, indent)}\n`)),
      fc.string({ unit: 'binary', maxLength: 40 }).map(utf8),
      fc
        .string({
          unit: fc.constantFrom(...'{}[],:"\\ \n\t\r\b\f01-+.eEtrufalsn\u0000\u001f\u007fA\u00e9\u2028😀'.split('')),
          maxLength: 30,
        })
        .map(utf8),
      fc.uint8Array({ maxLength: 50 }),
      fc.array(fc.constantFrom(...tricky), { maxLength: 4 }).map((parts) => Uint8Array.from(parts.flat())),
      fc.constantFrom(
        utf8(''),
        utf8(' '),
        utf8('"'),
        utf8('\\'),
        utf8('null'),
        utf8('{"a": 1} x'),
        utf8('12345678901234567890.000000001'),
        utf8('[1e400, -0]'),
      ),
    ),
    fc.nat(5),
    fc.boolean(),
  )
  .map(([b, offset, plain]) => {
    const big = plain ? new Uint8Array(b.length + offset + 2) : Buffer.alloc(b.length + offset + 2, 0x7b);
    big.set(b, offset);
    return big.subarray(offset, offset + b.length);
  });
const number = fc.oneof(
  fc.nat(),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fc.constantFrom(
    0,
    -0,
    9,
    10,
    99,
    100,
    1764115200000,
    Number.MAX_SAFE_INTEGER,
    2 ** 53,
    1e21,
    -1,
    1.5,
    1e-7,
    Number.NaN,
    Infinity,
    -Infinity,
  ),
  fc.double(),
);
const record: fc.Arbitrary<KafkaRecord> = fc.record({
  topic: fc.oneof(fc.constantFrom('orders', 'web.clicks'), anyString),
  partition: fc.oneof(fc.constantFrom(0, 1), number),
  offset: number,
  timestamp: fc.option(number, { nil: null }),
  timestampType: fc.oneof(fc.constantFrom(null, 'CREATE_TIME', 'LOG_APPEND_TIME'), anyString),
  key: fc.option(bytes, { nil: null }),
  value: fc.option(bytes, { nil: null }),
  headers: fc.array(fc.record({ key: fc.oneof(fc.constantFrom('traceparent', 'content-type'), anyString), value: bytes }), {
    maxLength: 3,
  }),
});

/** Writes records with the writer and with the reference; both must agree on every byte and every poison record. */
function compare(records: readonly KafkaRecord[], valueConverter: 'auto' | 'json'): void {
  const reference = referenceEncoder(valueConverter === 'json');
  const writer = createJsonLinesFormat({ valueConverter }).createWriter();
  const lines: string[] = [];
  for (const r of records) {
    let expected: string | PoisonRecordError;
    try {
      expected = reference.encodeRecord(r);
    } catch (error) {
      expect(error).toBeInstanceOf(PoisonRecordError);
      expected = error as PoisonRecordError;
    }
    if (typeof expected === 'string') {
      writer.write(r);
      lines.push(expected);
    } else {
      let thrown: unknown;
      try {
        writer.write(r);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(PoisonRecordError);
      expect((thrown as PoisonRecordError).message).toBe(expected.message);
      expect(thrown).toMatchObject({ topic: r.topic, partition: r.partition, offset: r.offset });
    }
    expect(writer.count).toBe(lines.length);
  }
  const body = writer.finish();
  const want = reference.join(lines);
  expect(Buffer.from(body.buffer, body.byteOffset, body.byteLength).equals(Buffer.from(want))).toBe(true);
  expect(body.byteLength).toBe(want.byteLength);
}

describe('JSON Lines writer = the string encoder it replaced', () => {
  it('property: any records, auto', () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 8 }), (records) => compare(records, 'auto')),
      { numRuns: 3000 },
    );
  });

  it('property: any records, value.converter json (poison records leave the body unchanged)', () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 8 }), (records) => compare(records, 'json')),
      { numRuns: 3000 },
    );
  });

  it('grows its buffer past the initial capacity, for many records and for large values', () => {
    const big = (n: number, fill: string) => utf8(`{"s": "${fill.repeat(n)}", "n": [1, 2, 3]}`);
    const base = { topic: 'orders', partition: 0, timestamp: 1, timestampType: 'CREATE_TIME', key: null, headers: [] };
    const records: KafkaRecord[] = [];
    for (let i = 0; i < 3000; i++) records.push({ ...base, offset: i, value: big(i % 50, 'é') });
    records.push({ ...base, offset: 3000, value: big(300_000, 'x') }); // JSON, larger than the buffer
    records.push({ ...base, offset: 3001, value: utf8('\u0001'.repeat(100_000)) }); // text: 6 bytes per byte
    records.push({ ...base, offset: 3002, value: new Uint8Array(200_000).fill(0xff) }); // base64
    compare(records, 'auto');
    compare(records, 'json');
  });

  it('keys, values and header values that are JSON are embedded whatever byte they start with', () => {
    // One JSON text per byte a JSON text can start with (the writer looks at the first byte
    // before checking the rest), and texts that start like JSON but are not.
    const texts = [
      ' 1',
      '\t{}',
      '\n[]',
      '\r"a"',
      '{"a":1}',
      '[1]',
      '"s"',
      '-1',
      '0',
      '7.5',
      'true',
      'false',
      'null',
      '-',
      'nul',
      'tru e',
      'cus_1',
      'SKU-1',
    ];
    const base = { topic: 'orders', partition: 0, timestamp: 1, timestampType: 'CREATE_TIME' };
    const records: KafkaRecord[] = texts.map((text, offset) => ({
      ...base,
      offset,
      key: utf8(text),
      value: utf8(text),
      headers: [{ key: 'h', value: utf8(text) }],
    }));
    compare(records, 'auto');
    const line = createJsonLinesFormat({ valueConverter: 'auto' }).encodeRecord(records[texts.indexOf('-1')]!);
    expect(JSON.parse(line)).toMatchObject({ key: -1, value: -1, headers: [{ key: 'h', value: -1 }] });
  });

  it('an empty writer gives an empty body; a finished writer takes no more records', () => {
    const writer = createJsonLinesFormat({ valueConverter: 'auto' }).createWriter();
    expect(writer.count).toBe(0);
    expect(writer.finish().byteLength).toBe(0);
    expect(() =>
      writer.write({ topic: 't', partition: 0, offset: 0, timestamp: null, timestampType: null, key: null, value: null, headers: [] }),
    ).toThrow(TypeError);
  });
});
