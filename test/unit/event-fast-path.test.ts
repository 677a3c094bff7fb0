/**
 * parseKafkaEvent's two passes: the fast pass for well-formed events must accept only what the
 * careful pass accepts, and build the very same batch; anything else goes to the careful pass,
 * which words the problems (test/unit/event.test.ts pins the messages). The careful pass was
 * zod schemas until the cold start was lightened: it must still accept, reject and word every
 * event as they did (test/support/event-zod-oracle.ts keeps them).
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { parseKafkaEvent } from '../../lib/sink/event.ts';
import { parseWithProblems } from '../../lib/sink/event-careful-pass.ts';
import { parseWellFormed } from '../../lib/sink/event-fast-pass.ts';
import { parseWithSchemas as parseWithZod } from '../support/event-zod-oracle.ts';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const bytesField = fc.oneof(fc.constant(undefined), fc.constant(null), fc.uint8Array({ maxLength: 20 }).map(b64));
const header = fc.tuple(fc.string({ maxLength: 6 }), fc.uint8Array({ maxLength: 6 })).map(([name, bytes]) => ({ [name]: [...bytes] }));
const recordSpec = fc.record({
  gap: fc.integer({ min: 1, max: 5 }),
  timestamp: fc.option(fc.oneof(fc.integer({ min: 0, max: 2 ** 42 }), fc.double({ noNaN: true, noDefaultInfinity: true })), {
    nil: undefined,
  }),
  timestampType: fc.option(fc.constantFrom('CREATE_TIME', 'LOG_APPEND_TIME', ''), { nil: undefined }),
  key: bytesField,
  value: bytesField,
  headers: fc.option(fc.array(header, { maxLength: 3 }), { nil: undefined }),
  extra: fc.boolean(),
});
const partitionSpec = fc.record({
  topic: fc.stringMatching(/^[a-zA-Z0-9._-]{1,12}$/),
  partition: fc.oneof(fc.nat(20), fc.constant(-0)),
  start: fc.oneof(fc.nat(2 ** 40), fc.constant(Number.MAX_SAFE_INTEGER - 40)),
  records: fc.array(recordSpec, { maxLength: 5 }),
});
const eventSpec = fc.record({
  eventSource: fc.constantFrom('aws:kafka', 'SelfManagedKafka'),
  partitions: fc.uniqueArray(partitionSpec, { selector: (p) => `${p.topic}-${p.partition}`, maxLength: 4 }),
});

function build(spec: typeof eventSpec extends fc.Arbitrary<infer T> ? T : never): Record<string, unknown> {
  const records: Record<string, unknown[]> = {};
  for (const p of spec.partitions) {
    let offset = p.start;
    records[`${p.topic}-${p.partition}`] = p.records.map((r) => {
      offset += r.gap;
      const raw: Record<string, unknown> = { topic: p.topic, partition: p.partition, offset };
      for (const field of ['timestamp', 'timestampType', 'key', 'value', 'headers'] as const)
        if (r[field] !== undefined) raw[field] = r[field];
      if (r.key === undefined && r.extra) raw.key = undefined; // present but undefined
      if (r.extra) raw.leaderEpoch = 3;
      return raw;
    });
  }
  return { eventSource: spec.eventSource, bootstrapServers: 'b:9092', records };
}

/** Values that break one rule or another, or sit right at a boundary. */
const odd = fc.constantFrom<unknown>(
  undefined,
  null,
  -1,
  -0,
  0,
  1,
  1.5,
  -1.5,
  2 ** 53,
  2 ** 53 - 1,
  -(2 ** 53) - 2,
  Number.NaN,
  Infinity,
  -Infinity,
  '1',
  '',
  'QQ==',
  'QQ',
  'QQ=A',
  'Q-_A',
  'QUJD\nREVG',
  'QŁJD',
  true,
  {},
  [],
  [1],
  [256],
  [-1],
  [1.5],
  ['1'],
  [{ a: [1] }],
  [{ a: [1], b: [2] }],
  [{ a: 'x' }],
  [{}],
  [null],
  [[1]],
  { a: [1] },
  'bad topic',
  'x'.repeat(250),
  [{ a: [256, -1, 0.5, '1'] }, 'x', { b: [255] }],
  new Date(0),
  'orders',
  't-0',
  'CREATE_TIME',
);
const field = fc.constantFrom('topic', 'partition', 'offset', 'timestamp', 'timestampType', 'key', 'value', 'headers');
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('field' as const), p: fc.nat(), r: fc.nat(), field, value: odd }),
  fc.record({ kind: fc.constant('delete' as const), p: fc.nat(), r: fc.nat(), field }),
  fc.record({ kind: fc.constant('record' as const), p: fc.nat(), r: fc.nat(), value: odd }),
  fc.record({ kind: fc.constant('list' as const), p: fc.nat(), value: odd }),
  fc.record({ kind: fc.constant('swap' as const), p: fc.nat(), r: fc.nat() }),
  fc.record({ kind: fc.constant('rename' as const), p: fc.nat(), value: fc.constantFrom('x', '__proto__', 't-01', 'a-1-2', '') }),
  fc.record({ kind: fc.constant('envelope' as const), field: fc.constantFrom('eventSource', 'records'), value: odd }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(event: Record<string, unknown>, original: Mutation): unknown {
  // Each event gets its own copy of an odd value: the same mutations are applied to several
  // events built alike, and a shared object that one of them altered would make them differ.
  const m = 'value' in original ? ({ ...original, value: structuredClone(original.value) } as Mutation) : original;
  if (m.kind === 'envelope') return { ...event, [m.field]: m.value };
  const records = event.records as Record<string, unknown[]>;
  if (typeof records !== 'object' || records === null) return event;
  const keys = Object.keys(records);
  if (keys.length === 0) return event;
  const key = keys[m.p % keys.length]!;
  const list = records[key]!;
  if (m.kind === 'list') records[key] = m.value as unknown[];
  else if (m.kind === 'rename') {
    const renamed: Record<string, unknown[]> = {};
    for (const k of keys)
      Object.defineProperty(renamed, k === key ? m.value : k, { value: records[k], enumerable: true, configurable: true, writable: true });
    event.records = renamed;
  } else if (Array.isArray(list) && list.length > 0) {
    const i = m.r % list.length;
    const target = list[i];
    if (m.kind === 'record') list[i] = m.value;
    else if (m.kind === 'swap') [list[i], list[0]] = [list[0], list[i]];
    else if (typeof target !== 'object' || target === null) return event;
    else if (m.kind === 'field') (target as Record<string, unknown>)[m.field] = m.value;
    else delete (target as Record<string, unknown>)[m.field];
  }
  return event;
}

/** What a parse gives: the batch, or the error's name and issues. */
function outcome(parse: () => unknown): unknown {
  try {
    return { batch: parse() };
  } catch (error) {
    return { error: (error as Error).name, issues: (error as { issues?: unknown }).issues };
  }
}

describe('parseKafkaEvent: the fast pass agrees with the schemas', () => {
  it("property: well-formed events take the fast pass and give the careful pass' batch", () => {
    fc.assert(
      fc.property(eventSpec, (spec) => {
        const fast = parseWellFormed(build(spec));
        expect(fast).toBeDefined();
        expect(fast).toStrictEqual(parseWithProblems(build(spec)));
      }),
      { numRuns: 1000 },
    );
  });

  it('property: on mutated events, the fast pass accepts only what the careful pass accepts, with the same batch', () => {
    let fastAccepted = 0;
    fc.assert(
      fc.property(eventSpec, fc.array(mutation, { minLength: 1, maxLength: 3 }), (spec, mutations) => {
        const make = () => mutations.reduce<unknown>((event, m) => mutate(event as Record<string, unknown>, m), build(spec));
        const slow = outcome(() => parseWithProblems(make()));
        const fast = parseWellFormed(make());
        if (fast !== undefined) {
          fastAccepted++;
          expect(slow).toStrictEqual({ batch: fast });
        }
        expect(outcome(() => parseKafkaEvent(make()))).toStrictEqual(slow);
      }),
      { numRuns: 5000 },
    );
    expect(fastAccepted).toBeGreaterThan(0);
  });

  it('property: the careful pass accepts, rejects and words every event as the zod schemas did', () => {
    fc.assert(
      fc.property(eventSpec, fc.array(mutation, { maxLength: 3 }), (spec, mutations) => {
        const make = () => mutations.reduce<unknown>((event, m) => mutate(event as Record<string, unknown>, m), build(spec));
        expect(outcome(() => parseWithProblems(make()))).toStrictEqual(outcome(() => parseWithZod(make())));
      }),
      { numRuns: 5000 },
    );
    for (const event of fc.sample(odd, 200)) {
      expect(outcome(() => parseWithProblems(event))).toStrictEqual(outcome(() => parseWithZod(event)));
    }
  });

  it('property: keys and values stay intact when the decoded bytes fill several shared chunks', () => {
    // The fast pass decodes into chunks of 16 KiB, doubling up to 4 MiB: values of up to 40 KiB
    // over ~1.5 MiB cross every chunk boundary, and some are larger than the next chunk.
    const pseudoRandom = (n: number, seed: number) => {
      const out = Buffer.allocUnsafe(n);
      let state = seed >>> 0;
      for (let i = 0; i < n; i++) out[i] = (state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 24;
      return out;
    };
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 40_000 }), { minLength: 40, maxLength: 80 }), fc.nat(), (sizes, seed) => {
        const values = sizes.map((n, i) => pseudoRandom(n, seed + i));
        const event = {
          eventSource: 'aws:kafka',
          records: {
            't-0': values.map((v, i) => ({ topic: 't', partition: 0, offset: i, key: b64(v.subarray(0, 7)), value: b64(v), headers: [] })),
          },
        };
        const fast = parseWellFormed(event)!.partitions[0]!.records;
        const slow = parseWithProblems(event).partitions[0]!.records;
        // Buffer.equals: a deep equality of megabytes of bytes is slow.
        values.forEach((v, i) => {
          expect(v.equals(fast[i]!.value!)).toBe(true);
          expect(v.subarray(0, 7).equals(fast[i]!.key!)).toBe(true);
          expect(Buffer.from(slow[i]!.value!).equals(fast[i]!.value!)).toBe(true);
        });
      }),
      { numRuns: 15 },
    );
  });

  it("without Node's Buffer#base64Write, the fast pass decodes with the public Buffer#write, to the same batch", async () => {
    const proto = Buffer.prototype as { base64Write?: unknown };
    const original = proto.base64Write;
    expect(typeof original).toBe('function'); // else this test would not test the fallback
    delete proto.base64Write;
    let fallback: typeof import('../../lib/sink/event-fast-pass.ts');
    try {
      vi.resetModules();
      fallback = await import('../../lib/sink/event-fast-pass.ts'); // a fresh copy, which sees no base64Write
    } finally {
      proto.base64Write = original;
    }
    fc.assert(
      fc.property(eventSpec, (spec) => {
        expect(fallback.parseWellFormed(build(spec))).toStrictEqual(parseWithProblems(build(spec)));
      }),
      { numRuns: 300 },
    );
  });
});
