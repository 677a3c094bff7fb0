import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MalformedEventError } from '../../lib/core/errors.ts';
import { parseKafkaEvent } from '../../lib/sink/event.ts';
import { decodeBase64Strict } from '../../lib/sink/strict-base64.ts';

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`../fixtures/events/${name}`, import.meta.url), 'utf8'));

const text = (bytes: Uint8Array | null): string | null => (bytes === null ? null : Buffer.from(bytes).toString('utf8'));

/** A minimal well-formed record of topic `t`, partition 0. */
const rec = (fields: Record<string, unknown> = {}): Record<string, unknown> => ({
  topic: 't',
  partition: 0,
  offset: 1,
  ...fields,
});
const event = (records: unknown, eventSource: unknown = 'aws:kafka'): unknown => ({ eventSource, records });
const one = (fields: Record<string, unknown>): unknown => event({ 't-0': [rec(fields)] });

/** Parses and returns the issues of the MalformedEventError it must throw. */
function issuesOf(input: unknown): readonly string[] {
  try {
    parseKafkaEvent(input);
  } catch (error) {
    expect(error).toBeInstanceOf(MalformedEventError);
    const e = error as MalformedEventError;
    expect(e.name).toBe('MalformedEventError');
    expect(e.message).toContain(e.issues[0]);
    return e.issues;
  }
  throw new Error('expected a MalformedEventError');
}

/** Asserts that the event is malformed with exactly these issues. */
const rejects = (input: unknown, ...issues: string[]) => expect(issuesOf(input)).toEqual(issues);

describe('parseKafkaEvent: the sample events', () => {
  it('parses the MSK event: partitions in key order, records in order, bytes decoded', () => {
    const batch = parseKafkaEvent(fixture('msk.json'));
    expect(batch.eventSource).toBe('aws:kafka');
    expect(batch.partitions.map((p) => `${p.topic}/${p.partition}`)).toEqual(['orders/0', 'orders/2', 'clicks/1']);
    const [orders0, orders2, clicks1] = batch.partitions;
    expect(orders0!.records.map((r) => r.offset)).toEqual([41, 42, 43]);
    const first = orders0!.records[0]!;
    expect(first).toMatchObject({ topic: 'orders', partition: 0, offset: 41, timestamp: 1764115200000, timestampType: 'CREATE_TIME' });
    expect(text(first.key)).toBe('customer-7');
    expect(text(first.value)).toBe('{"orderId":1000,"amount":19.5,"currency":"EUR"}');
    expect(first.headers).toHaveLength(1);
    expect(first.headers[0]!.key).toBe('traceparent');
    expect(text(first.headers[0]!.value)).toBe('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    expect(orders2!.records[0]!.key).toBeNull(); // no key field
    expect(orders2!.records[0]!.headers).toEqual([]);
    expect(clicks1!.records.map((r) => r.offset)).toEqual([1200, 1201]);
    expect(text(clicks1!.records[1]!.value)).toBe('not json: plain text value');
    for (const p of batch.partitions) for (const r of p.records) expect(r.value).toBeInstanceOf(Uint8Array);
  });

  it('parses the self-managed event', () => {
    const batch = parseKafkaEvent(fixture('self-managed.json'));
    expect(batch.eventSource).toBe('SelfManagedKafka');
    expect(batch.partitions).toHaveLength(1);
    const r = batch.partitions[0]!.records[0]!;
    expect(r).toMatchObject({ topic: 'payments', partition: 0, offset: 0 });
    expect(text(r.key)).toBe('acct-1');
    expect(text(r.value)).toBe('{"id":"p-1","cents":1250}');
  });
});

describe('parseKafkaEvent: optional fields and defaults', () => {
  it('absent timestamp, timestampType, key, value and headers give null, null, null, null, []', () => {
    const r = parseKafkaEvent(one({})).partitions[0]!.records[0]!;
    expect(r).toEqual({ topic: 't', partition: 0, offset: 1, timestamp: null, timestampType: null, key: null, value: null, headers: [] });
  });

  it('null key and value are null; an empty value is empty bytes, not a tombstone', () => {
    const [a, b] = parseKafkaEvent(event({ 't-0': [rec({ offset: 1, key: null, value: null }), rec({ offset: 2, key: '', value: '' })] }))
      .partitions[0]!.records;
    expect(a!.key).toBeNull();
    expect(a!.value).toBeNull();
    expect(b!.key).toBeInstanceOf(Uint8Array);
    expect(b!.key!.byteLength).toBe(0);
    expect(b!.value).toBeInstanceOf(Uint8Array);
    expect(b!.value!.byteLength).toBe(0);
  });

  it('keeps binary values byte for byte', () => {
    const bytes = Buffer.from([0, 255, 128, 10, 13, 0xc3]);
    const r = parseKafkaEvent(one({ value: bytes.toString('base64') })).partitions[0]!.records[0]!;
    expect(Buffer.from(r.value!)).toEqual(bytes);
  });

  it('ignores unknown fields', () => {
    const batch = parseKafkaEvent({
      eventSource: 'SelfManagedKafka',
      bootstrapServers: 'x:9092',
      extra: { anything: [1] },
      records: { 't-0': [rec({ somethingNew: true, leaderEpoch: 3 })] },
    });
    expect(batch.partitions[0]!.records[0]!.offset).toBe(1);
  });

  it('accepts gapped offsets', () => {
    const batch = parseKafkaEvent(event({ 't-0': [rec({ offset: 3 }), rec({ offset: 10 }), rec({ offset: 11 }), rec({ offset: 900 })] }));
    expect(batch.partitions[0]!.records.map((r) => r.offset)).toEqual([3, 10, 11, 900]);
  });

  it('leaves out a partition whose list is empty; an empty records map gives no partitions', () => {
    expect(parseKafkaEvent(event({ 't-0': [], 'u-1': [rec({ topic: 'u', partition: 1 })] })).partitions.map((p) => p.topic)).toEqual(['u']);
    expect(parseKafkaEvent(event({})).partitions).toEqual([]);
  });

  it('accepts topic names with dots, underscores and dashes, up to 249 characters', () => {
    const long = 'x'.repeat(249);
    const batch = parseKafkaEvent(
      event({
        'my.topic_v2-x-0': [rec({ topic: 'my.topic_v2-x' })],
        [`${long}-3`]: [rec({ topic: long, partition: 3 })],
      }),
    );
    expect(batch.partitions.map((p) => p.topic)).toEqual(['my.topic_v2-x', long]);
  });

  it('takes topic and partition from the record: topic "a-1", partition 2 under key "a-1-2" is accepted', () => {
    const batch = parseKafkaEvent(event({ 'a-1-2': [rec({ topic: 'a-1', partition: 2 })] }));
    expect(batch.partitions[0]).toMatchObject({ topic: 'a-1', partition: 2 });
  });

  it('decodes header values to bytes (empty allowed, any name)', () => {
    const r = parseKafkaEvent(one({ headers: [{ a: [0, 255] }, { '': [] }, { 'with space': [104, 105] }] })).partitions[0]!.records[0]!;
    expect(r.headers.map((h) => [h.key, [...h.value]])).toEqual([
      ['a', [0, 255]],
      ['', []],
      ['with space', [104, 105]],
    ]);
  });
});

describe('parseKafkaEvent: malformed events', () => {
  it('rejects an event that is not an object', () => {
    for (const input of [null, undefined, 42, 'event', []]) rejects(input, '(event): expected an object');
  });

  it('rejects a missing or unknown eventSource', () => {
    rejects({ records: {} }, 'eventSource: expected "aws:kafka" or "SelfManagedKafka"');
    rejects(event({}, 'aws:sqs'), 'eventSource: expected "aws:kafka" or "SelfManagedKafka"');
    rejects(event({}, 7), 'eventSource: expected "aws:kafka" or "SelfManagedKafka"');
  });

  it('rejects missing records, or records that are not an object', () => {
    const problem = 'records: expected an object mapping "<topic>-<partition>" to a list of records';
    rejects({ eventSource: 'aws:kafka' }, problem);
    rejects(event([]), problem);
    rejects(event('t-0'), problem);
    rejects(event(null), problem);
  });

  it("rejects a partition's list that is not an array", () => {
    rejects(event({ 'orders-0': { 0: rec() } }), 'records["orders-0"]: expected an array of records');
    rejects(event({ 'orders-0': null }), 'records["orders-0"]: expected an array of records');
  });

  it('rejects a record that is not an object', () => {
    rejects(
      event({ 't-0': [rec(), 'x', null, [1]] }),
      'records["t-0"][1]: expected a record object',
      'records["t-0"][2]: expected a record object',
      'records["t-0"][3]: expected a record object',
    );
  });

  it('rejects an offset that is not a non-negative safe integer', () => {
    for (const offset of [-1, 1.5, '3', 2 ** 53, null, undefined, Number.NaN]) {
      rejects(one({ offset }), 'records["t-0"][0].offset: expected a non-negative integer');
    }
  });

  it('rejects a partition that is not a non-negative safe integer', () => {
    for (const partition of [-1, 0.5, '0', 2 ** 53, null, undefined]) {
      rejects(one({ partition }), 'records["t-0"][0].partition: expected a non-negative integer');
    }
  });

  it('names the record by its index: records["orders-0"][3].offset', () => {
    const list = [0, 1, 2].map((offset) => rec({ topic: 'orders', offset }));
    rejects(
      event({ 'orders-0': [...list, rec({ topic: 'orders', offset: -4 })] }),
      'records["orders-0"][3].offset: expected a non-negative integer',
    );
  });

  it('rejects a timestamp that is not a number', () => {
    rejects(one({ timestamp: '1764115200000' }), 'records["t-0"][0].timestamp: expected a number (epoch milliseconds)');
    rejects(one({ timestamp: true }), 'records["t-0"][0].timestamp: expected a number (epoch milliseconds)');
  });

  it('rejects a timestampType that is not a string', () => {
    rejects(one({ timestampType: 1 }), 'records["t-0"][0].timestampType: expected a string');
  });

  it('rejects a record whose topic and partition do not match its map key (never splitting the key)', () => {
    rejects(
      event({ 'a-1-2': [rec({ topic: 'a', partition: 12 })] }),
      'records["a-1-2"][0]: topic "a" and partition 12 belong under "a-12", not "a-1-2"',
    );
    rejects(
      event({ 'orders-0': [rec({ topic: 'orders', partition: 1 })] }),
      'records["orders-0"][0]: topic "orders" and partition 1 belong under "orders-1", not "orders-0"',
    );
    rejects(
      event({ 'orders-0': [rec({ topic: 'order', partition: 0 })] }),
      'records["orders-0"][0]: topic "order" and partition 0 belong under "order-0", not "orders-0"',
    );
  });

  it('rejects a map key that is not of the form <topic>-<partition>', () => {
    rejects(event(JSON.parse('{"__proto__": []}')), 'records["__proto__"]: expected a key of the form "<topic>-<partition>"');
  });

  it('rejects a topic name Kafka could not have', () => {
    const problem = 'expected a Kafka topic name ([a-zA-Z0-9._-], 1 to 249 characters)';
    rejects(event({ 'bad topic-0': [rec({ topic: 'bad topic' })] }), `records["bad topic-0"][0].topic: ${problem}`);
    const long = 'x'.repeat(250);
    expect(issuesOf(event({ [`${long}-0`]: [rec({ topic: long })] }))).toContain(`records["${long}-0"][0].topic: ${problem}`);
    expect(issuesOf(event({ '-0': [rec({ topic: '' })] }))).toContain(`records["-0"][0].topic: ${problem}`);
    rejects(event({ 't-0': [rec({ topic: 5 })] }), 'records["t-0"][0].topic: expected a topic name');
  });

  it('rejects a key or value that is present but not strict base64', () => {
    const problem = 'expected a base64 string (standard alphabet, padded)';
    for (const bad of ['QQ', 'QQ=', 'Q-_A', 'QUJD\nREVG', 'QUJ DREVG', 'QŁJD', 'QQ=A', 'A===', '====', 'QUJD=', 'QU%D', 5, true, {}]) {
      rejects(one({ key: bad }), `records["t-0"][0].key: ${problem}`);
      rejects(one({ value: bad }), `records["t-0"][0].value: ${problem}`);
    }
  });

  it('rejects a header that is not {name: [bytes 0–255]}', () => {
    const shape = 'expected an object with exactly one entry {name: [bytes]}';
    rejects(one({ headers: [{ a: [1, 256] }] }), 'records["t-0"][0].headers[0]["a"][1]: expected a byte (an integer from 0 to 255)');
    rejects(one({ headers: [{ a: [-1] }] }), 'records["t-0"][0].headers[0]["a"][0]: expected a byte (an integer from 0 to 255)');
    rejects(one({ headers: [{ a: [1.5] }] }), 'records["t-0"][0].headers[0]["a"][0]: expected a byte (an integer from 0 to 255)');
    rejects(one({ headers: [{ a: ['1'] }] }), 'records["t-0"][0].headers[0]["a"][0]: expected a byte (an integer from 0 to 255)');
    rejects(one({ headers: [{ a: 'AQ==' }] }), 'records["t-0"][0].headers[0]["a"]: expected an array of bytes');
    rejects(one({ headers: [{ a: null }] }), 'records["t-0"][0].headers[0]["a"]: expected an array of bytes');
    rejects(one({ headers: [{ a: [1], b: [2] }] }), `records["t-0"][0].headers[0]: ${shape}`);
    rejects(one({ headers: [{}] }), `records["t-0"][0].headers[0]: ${shape}`);
    rejects(
      one({ headers: ['a', null, [[1]]] }),
      `records["t-0"][0].headers[0]: ${shape}`,
      `records["t-0"][0].headers[1]: ${shape}`,
      `records["t-0"][0].headers[2]: ${shape}`,
    );
    rejects(one({ headers: { a: [1] } }), 'records["t-0"][0].headers: expected an array of headers');
  });

  it('rejects repeated offsets within a partition', () => {
    rejects(
      event({ 't-0': [rec({ offset: 5 }), rec({ offset: 5 })] }),
      `records["t-0"][1].offset: expected an offset above the previous record's (5), got 5`,
    );
  });

  it('rejects offsets out of ascending order within a partition', () => {
    rejects(
      event({ 't-0': [rec({ offset: 5 }), rec({ offset: 9 }), rec({ offset: 7 })] }),
      `records["t-0"][2].offset: expected an offset above the previous record's (9), got 7`,
    );
  });

  it('lists every problem, across partitions and records', () => {
    const issues = issuesOf(
      event({
        'a-0': [rec({ topic: 'a', offset: 2, key: '!' }), rec({ topic: 'a', offset: 1, timestamp: 'x' })],
        'b-1': [rec({ topic: 'b', partition: 2, headers: [{ h: [300] }] })],
      }),
    );
    expect(issues).toEqual([
      'records["a-0"][0].key: expected a base64 string (standard alphabet, padded)',
      'records["a-0"][1].timestamp: expected a number (epoch milliseconds)',
      `records["a-0"][1].offset: expected an offset above the previous record's (2), got 1`,
      'records["b-1"][0].headers[0]["h"][0]: expected a byte (an integer from 0 to 255)',
      'records["b-1"][0]: topic "b" and partition 2 belong under "b-2", not "b-1"',
    ]);
    const many = event({ 't-0': Array.from({ length: 8 }, () => rec({ offset: -1 })) });
    expect(issuesOf(many)).toHaveLength(8);
    expect(() => parseKafkaEvent(many)).toThrow('(and 3 more)');
  });
});

describe('decodeBase64Strict', () => {
  const reference = (s: string): boolean => s.length % 4 === 0 && /^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s);

  it('decodes exactly what Buffer encodes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(decodeBase64Strict(Buffer.from(bytes).toString('base64'))).toEqual(Buffer.from(bytes));
      }),
    );
  });

  it('rejects a character above U+00FF anywhere in a long string, which Node would read as its low byte', () => {
    const long = Buffer.alloc(150_000, 7).toString('base64'); // 200,000 characters
    expect(decodeBase64Strict(long)?.length).toBe(150_000);
    for (const at of [0, 1, 100_003, long.length - 3]) {
      for (const ch of ['\u0141', '\u4e41', '\u2b41']) {
        // Each of these ends in 0x41, which Node's decoder would take for 'A'.
        const bad = long.slice(0, at) + ch + long.slice(at + 1);
        expect(bad.length).toBe(long.length);
        expect(decodeBase64Strict(bad)).toBeUndefined();
        expect(() =>
          parseKafkaEvent({ eventSource: 'aws:kafka', records: { 't-0': [{ topic: 't', partition: 0, offset: 0, value: bad }] } }),
        ).toThrow('records["t-0"][0].value: expected a base64 string');
      }
    }
  });

  it('accepts exactly the strings a strict reference accepts (fuzzed mutations)', () => {
    const alphabet = fc.constantFrom(...'AQgw+/=-_ \n\t.%\u0000\u0141\u00e9\u4e00\ud83d'.split(''));
    const mutated = fc
      .tuple(
        fc.uint8Array({ maxLength: 40 }),
        fc.array(fc.tuple(fc.nat(), alphabet, fc.constantFrom('insert', 'replace', 'delete')), { maxLength: 3 }),
      )
      .map(([bytes, edits]) => {
        let s = Buffer.from(bytes).toString('base64');
        for (const [at, ch, how] of edits) {
          const i = s.length === 0 ? 0 : at % (s.length + (how === 'insert' ? 1 : 0));
          if (how === 'insert') s = s.slice(0, i) + ch + s.slice(i);
          else if (how === 'replace') s = s.slice(0, i) + ch + s.slice(i + 1);
          else s = s.slice(0, i) + s.slice(i + 1);
        }
        return s;
      });
    fc.assert(
      fc.property(fc.oneof(mutated, fc.string({ maxLength: 12 })), (s) => {
        expect(decodeBase64Strict(s) !== undefined).toBe(reference(s));
      }),
      { numRuns: 5000 },
    );
  });
});
