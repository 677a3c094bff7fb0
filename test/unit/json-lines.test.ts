import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PoisonRecordError } from '../../lib/core/errors.ts';
import { parseKafkaEvent } from '../../lib/sink/event.ts';
import { createJsonLinesFormat, decodeUtf8 } from '../../lib/format/json-lines.ts';
import type { KafkaRecord } from '../../lib/core/model.ts';

const auto = createJsonLinesFormat({ valueConverter: 'auto' });
const strict = createJsonLinesFormat({ valueConverter: 'json' });

const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const record = (fields: Partial<KafkaRecord> = {}): KafkaRecord => ({
  topic: 'orders',
  partition: 3,
  offset: 17,
  timestamp: 1764115200000,
  timestampType: 'CREATE_TIME',
  key: null,
  value: null,
  headers: [],
  ...fields,
});
const lineOf = (fields: Partial<KafkaRecord>): Record<string, unknown> => JSON.parse(auto.encodeRecord(record(fields)));

/** What a reader should find for bytes: the JSON value, the text, or base64 (with the marker). */
function expected(bytes: Uint8Array | null): { value: unknown; base64: boolean } {
  if (bytes === null) return { value: null, base64: false };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return { value: Buffer.from(bytes).toString('base64'), base64: true };
  }
  try {
    return { value: JSON.parse(text), base64: false };
  } catch {
    return { value: text, base64: false };
  }
}

describe('decodeUtf8', () => {
  const reference = (bytes: Uint8Array): string | undefined => {
    try {
      return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      return undefined;
    }
  };

  it('agrees with a fatal TextDecoder that keeps the BOM', () => {
    const tricky = [
      [0xef, 0xbb, 0xbf, 0x41],
      [0xed, 0xa0, 0x80],
      [0xc0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xe2, 0x82],
      [0xf0, 0x9f, 0x98, 0x80],
      [0x80],
      [0xc3, 0xa9],
    ].map((b) => Uint8Array.from(b));
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 20 }),
      fc.string({ unit: 'binary', maxLength: 20 }).map(utf8),
      fc
        .tuple(fc.array(fc.constantFrom(...tricky), { maxLength: 4 }), fc.string({ maxLength: 5 }))
        .map(([parts, s]) => Buffer.concat([...parts, utf8(s)])),
    );
    fc.assert(
      fc.property(bytes, fc.nat(8), (b, offset) => {
        // Also through a view at an offset into a larger buffer.
        const big = new Uint8Array(b.length + offset + 3);
        big.set(b, offset);
        const sub = big.subarray(offset, offset + b.length);
        expect(decodeUtf8(b)).toBe(reference(b));
        expect(decodeUtf8(sub)).toBe(reference(b));
      }),
      { numRuns: 2000 },
    );
    expect(decodeUtf8(Uint8Array.from([0xef, 0xbb, 0xbf]))).toBe('\ufeff');
  });
});

describe('JSON Lines format', () => {
  it('describes itself', () => {
    expect(auto).toMatchObject({ name: 'jsonl', version: '1', extension: '.jsonl', contentType: 'application/x-ndjson' });
  });

  it('writes the fields in order, JSON values embedded compactly', () => {
    const line = auto.encodeRecord(
      record({
        key: utf8('customer-7'),
        value: utf8('{ "orderId": 1000,\n  "amount": 19.5 }'),
        headers: [{ key: 'traceparent', value: utf8('00-ab-01') }],
      }),
    );
    expect(line).toBe(
      '{"topic":"orders","partition":3,"offset":17,"timestamp":1764115200000,"timestampType":"CREATE_TIME","key":"customer-7","value":{"orderId":1000,"amount":19.5},"headers":[{"key":"traceparent","value":"00-ab-01"}]}',
    );
  });

  it('encodes the MSK sample event', () => {
    const batch = parseKafkaEvent(JSON.parse(readFileSync(new URL('../fixtures/events/msk.json', import.meta.url), 'utf8')));
    const lines = batch.partitions.flatMap((p) => p.records.map((r) => auto.encodeRecord(r)));
    expect(lines[0]).toBe(
      '{"topic":"orders","partition":0,"offset":41,"timestamp":1764115200000,"timestampType":"CREATE_TIME","key":"customer-7","value":{"orderId":1000,"amount":19.5,"currency":"EUR"},"headers":[{"key":"traceparent","value":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}]}',
    );
    expect(lines[3]).toBe(
      '{"topic":"orders","partition":2,"offset":7,"timestamp":1764115201000,"timestampType":"CREATE_TIME","key":null,"value":{"orderId":2001,"amount":5,"currency":"USD"},"headers":[]}',
    );
    expect(JSON.parse(lines[5]!).value).toBe('not json: plain text value');
  });

  it('null key and tombstone are null; an empty value is ""; null timestamp fields are null', () => {
    expect(lineOf({ key: null, value: null, timestamp: null, timestampType: null })).toMatchObject({
      key: null,
      value: null,
      timestamp: null,
      timestampType: null,
    });
    expect(lineOf({ value: new Uint8Array(0) }).value).toBe('');
  });

  it('UTF-8 text that is not JSON becomes a JSON string, escaped', () => {
    const text = 'line one\nline "two"\t\u0001 é 😀 \u2028';
    const line = auto.encodeRecord(record({ value: utf8(text), key: utf8('{not json') }));
    expect(JSON.parse(line)).toMatchObject({ value: text, key: '{not json' });
  });

  it('bytes that are not UTF-8 become base64 with a marker right after the field', () => {
    const bin = Uint8Array.from([0xff, 0x00, 0xc3, 0x28]);
    const line = auto.encodeRecord(record({ key: bin, value: bin, headers: [{ key: 'h', value: bin }] }));
    expect(line).toContain(
      '"key":"/wDDKA==","keyEncoding":"base64","value":"/wDDKA==","valueEncoding":"base64","headers":[{"key":"h","value":"/wDDKA==","encoding":"base64"}]',
    );
    expect(JSON.parse(line)).toMatchObject({ keyEncoding: 'base64', valueEncoding: 'base64' });
  });

  it('keeps a BOM (text, not JSON) and lone-surrogate-free output', () => {
    const line = auto.encodeRecord(record({ value: utf8('\ufeff{"a":1}') }));
    expect(JSON.parse(line).value).toBe('\ufeff{"a":1}');
  });

  it('header values follow the same rules (JSON, text, empty)', () => {
    const line = auto.encodeRecord(
      record({
        headers: [
          { key: 'j', value: utf8(' [1, 2] ') },
          { key: 't', value: utf8('abc') },
          { key: 'e', value: new Uint8Array(0) },
        ],
      }),
    );
    expect(line).toContain('"headers":[{"key":"j","value":[1,2]},{"key":"t","value":"abc"},{"key":"e","value":""}]');
  });

  it('preserves big numbers exactly', () => {
    const value = '{"amount": 12345678901234567890.000000001, "id": 123456789012345678901234567890, "tiny": 1e-400}';
    const line = auto.encodeRecord(record({ value: utf8(value) }));
    expect(line).toContain('"value":{"amount":12345678901234567890.000000001,"id":123456789012345678901234567890,"tiny":1e-400}');
  });

  it('embeds deeply nested JSON (100k levels)', () => {
    const depth = 100_000;
    const line = auto.encodeRecord(record({ value: utf8('[ '.repeat(depth) + ' ]'.repeat(depth)) }));
    expect(line).toContain(`"value":${'['.repeat(depth)}${']'.repeat(depth)},"headers"`);
  });

  it('valueConverter json: a value that is not UTF-8 JSON is a poison record', () => {
    const where = { topic: 'orders', partition: 3, offset: 17 };
    const binary = () => strict.encodeRecord(record({ value: Uint8Array.from([0xff]) }));
    expect(binary).toThrow(PoisonRecordError);
    expect(binary).toThrow(/not valid UTF-8/);
    const text = () => strict.encodeRecord(record({ value: utf8('plain text') }));
    expect(text).toThrow(PoisonRecordError);
    expect(text).toThrow(/not valid JSON/);
    expect(() => strict.encodeRecord(record({ value: new Uint8Array(0) }))).toThrow(/not valid JSON/);
    try {
      text();
    } catch (error) {
      expect(error).toMatchObject(where);
    }
    // Tombstones, JSON values, and any key or header are fine.
    expect(JSON.parse(strict.encodeRecord(record({ value: null }))).value).toBeNull();
    expect(JSON.parse(strict.encodeRecord(record({ value: utf8(' {"a": 1} '), key: Uint8Array.from([0xff]) }))).value).toEqual({ a: 1 });
  });

  it('valueConverter auto never throws for a value', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(() => auto.encodeRecord(record({ value: bytes }))).not.toThrow();
      }),
    );
  });

  it('join: lines with "\\n" and a trailing newline, UTF-8; nothing for no lines', () => {
    expect(Buffer.from(auto.join(['{"a":"é"}', '{"b":2}'])).toString('utf8')).toBe('{"a":"é"}\n{"b":2}\n');
    expect(auto.join([]).byteLength).toBe(0);
  });

  it('a line never contains a raw newline or carriage return', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 40 }).map(utf8),
      fc.json().map((j) => utf8(JSON.stringify(JSON.parse(j), null, '\r\n'))),
      fc.constantFrom(utf8('\n'), utf8('"\n"'), utf8('\r\n[\n1\n]\r\n')),
    );
    fc.assert(
      fc.property(bytes, bytes, fc.string(), (key, value, headerName) => {
        const line = auto.encodeRecord(record({ key, value, headers: [{ key: headerName, value }] }));
        expect(line).not.toMatch(/[\n\r]/);
        JSON.parse(line);
      }),
      { numRuns: 1000 },
    );
  });
});

// ---- Round trip: random well-formed events → parse → encode → JSON.parse each line --------------

type ValueSpec =
  | { kind: 'absent' }
  | { kind: 'null' }
  | { kind: 'json'; text: string }
  | { kind: 'text'; text: string }
  | { kind: 'binary'; bytes: Uint8Array };

const valueSpec: fc.Arbitrary<ValueSpec> = fc.oneof(
  fc.constant<ValueSpec>({ kind: 'absent' }),
  fc.constant<ValueSpec>({ kind: 'null' }),
  fc
    .tuple(fc.json(), fc.constantFrom(0, 2, '\t'))
    .map(([j, indent]): ValueSpec => ({ kind: 'json', text: JSON.stringify(JSON.parse(j), null, indent) })),
  fc.constantFrom<ValueSpec>(
    { kind: 'json', text: '{"big": 12345678901234567890.000000001}' },
    { kind: 'json', text: '[1e400, -0, 0.1000]' },
  ),
  fc.string({ unit: 'grapheme', maxLength: 30 }).map((text): ValueSpec => ({ kind: 'text', text })),
  fc.uint8Array({ maxLength: 40 }).map((bytes): ValueSpec => ({ kind: 'binary', bytes })),
);

function specBytes(spec: ValueSpec): Uint8Array | null {
  switch (spec.kind) {
    case 'absent':
    case 'null':
      return null;
    case 'json':
    case 'text':
      return utf8(spec.text);
    case 'binary':
      return spec.bytes;
  }
}

const topic = fc.stringMatching(/^[a-zA-Z0-9._-]{1,12}$/);
const header = fc.tuple(fc.string({ maxLength: 8 }), fc.uint8Array({ maxLength: 12 }));
const recordSpec = fc.record({
  gap: fc.integer({ min: 1, max: 1000 }),
  key: valueSpec,
  value: valueSpec,
  timestamp: fc.option(fc.integer({ min: 0, max: 2 ** 42 }), { nil: undefined }),
  headers: fc.option(fc.array(header, { maxLength: 3 }), { nil: undefined }),
});
const partitionSpec = fc.record({
  topic,
  partition: fc.nat(2000),
  start: fc.nat(2 ** 40),
  records: fc.array(recordSpec, { minLength: 1, maxLength: 6 }),
});
const eventSpec = fc.record({
  eventSource: fc.constantFrom('aws:kafka', 'SelfManagedKafka'),
  partitions: fc.uniqueArray(partitionSpec, { selector: (p) => `${p.topic}-${p.partition}`, minLength: 1, maxLength: 4 }),
});
type EventSpec = typeof eventSpec extends fc.Arbitrary<infer T> ? T : never;

function base64Field(spec: ValueSpec): string | null | undefined {
  if (spec.kind === 'absent') return undefined;
  const bytes = specBytes(spec);
  return bytes === null ? null : Buffer.from(bytes).toString('base64');
}

/** The Lambda event for a spec, and the expected records (with their offsets). */
function build(spec: EventSpec) {
  const records: Record<string, unknown[]> = {};
  const expectations: {
    topic: string;
    partition: number;
    offset: number;
    key: ValueSpec;
    value: ValueSpec;
    timestamp: number | null;
    headers: [string, Uint8Array][];
  }[] = [];
  for (const p of spec.partitions) {
    let offset = p.start;
    const list: unknown[] = [];
    for (const r of p.records) {
      offset += r.gap;
      const raw: Record<string, unknown> = { topic: p.topic, partition: p.partition, offset };
      if (r.timestamp !== undefined) Object.assign(raw, { timestamp: r.timestamp, timestampType: 'CREATE_TIME' });
      const key = base64Field(r.key);
      if (key !== undefined) raw.key = key;
      const value = base64Field(r.value);
      if (value !== undefined) raw.value = value;
      if (r.headers !== undefined) raw.headers = r.headers.map(([name, bytes]) => ({ [name]: [...bytes] }));
      list.push(raw);
      expectations.push({
        topic: p.topic,
        partition: p.partition,
        offset,
        key: r.key,
        value: r.value,
        timestamp: r.timestamp ?? null,
        headers: r.headers ?? [],
      });
    }
    records[`${p.topic}-${p.partition}`] = list;
  }
  // Through JSON, as Lambda delivers it.
  return { event: JSON.parse(JSON.stringify({ eventSource: spec.eventSource, records })), expectations };
}

function checkField(line: Record<string, unknown>, field: string, marker: string, spec: ValueSpec): void {
  const bytes = specBytes(spec);
  const want = expected(bytes);
  expect(line[field]).toEqual(want.value);
  if (want.base64) {
    expect(line[marker]).toBe('base64');
    expect(Buffer.from(line[field] as string, 'base64')).toEqual(Buffer.from(bytes!));
  } else {
    expect(line).not.toHaveProperty(marker);
  }
  if (spec.kind === 'json') expect(line[field]).toEqual(JSON.parse(spec.text));
  if (spec.kind === 'text' && want.value === spec.text) expect(line[field]).toBe(spec.text);
}

describe('round trip: event → records → JSON Lines', () => {
  it('property: every record comes back with its topic, partition, offset, key, value and headers', () => {
    fc.assert(
      fc.property(eventSpec, (spec) => {
        const { event, expectations } = build(spec);
        const batch = parseKafkaEvent(event);
        expect(batch.eventSource).toBe(spec.eventSource);
        expect(batch.partitions.map((p) => `${p.topic}-${p.partition}`)).toEqual(Object.keys(event.records));
        const encoded = batch.partitions.flatMap((p) => p.records.map((r) => auto.encodeRecord(r)));
        const body = Buffer.from(auto.join(encoded)).toString('utf8');
        const lines = body.split('\n');
        expect(lines.pop()).toBe('');
        expect(lines).toHaveLength(expectations.length);
        lines.forEach((text, i) => {
          const want = expectations[i]!;
          const line = JSON.parse(text) as Record<string, unknown>;
          expect(Object.keys(line).filter((k) => !k.endsWith('Encoding'))).toEqual([
            'topic',
            'partition',
            'offset',
            'timestamp',
            'timestampType',
            'key',
            'value',
            'headers',
          ]);
          expect(line).toMatchObject({ topic: want.topic, partition: want.partition, offset: want.offset, timestamp: want.timestamp });
          checkField(line, 'key', 'keyEncoding', want.key);
          checkField(line, 'value', 'valueEncoding', want.value);
          const headers = line.headers as Record<string, unknown>[];
          expect(headers.map((h) => h.key)).toEqual(want.headers.map(([name]) => name));
          headers.forEach((h, j) => {
            const bytes = want.headers[j]![1];
            const w = expected(bytes);
            expect(h.value).toEqual(w.value);
            if (w.base64) expect(h.encoding).toBe('base64');
          });
        });
      }),
      { numRuns: 300 },
    );
  });
});
