/**
 * Local mode's event source mapping simulator (testkit/kafka/mapping.ts), in process with a fake
 * handler, and its sources (generator, murmur2 partitioner, JSON Lines input).
 */
import { describe, expect, it } from 'vitest';
import { InputFileError, parseInput } from '../../local/input.ts';
import { EventSourceMappingSim, type MappingOptions, type SimBatch } from '../../testkit/kafka/mapping.ts';
import { generateStream } from '../../testkit/kafka/generate.ts';
import { murmur2, partitionForKey, STREAM_EPOCH, type PartitionLog, type LogRecord } from '../../testkit/kafka/records.ts';

/** One partition's log: offsets as given, produced `intervalMs` apart from STREAM_EPOCH (or at the given times). */
function log(
  topic: string,
  partition: number,
  offsets: readonly number[],
  producedAt: (i: number) => number = () => STREAM_EPOCH,
): PartitionLog {
  const records: LogRecord[] = offsets.map((offset, i) => ({
    topic,
    partition,
    offset,
    timestamp: producedAt(i),
    producedAt: producedAt(i),
    key: null,
    value: Buffer.from(JSON.stringify({ id: `${topic}/${partition}/${offset}` })),
  }));
  return { topic, partition, records };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
const options = (overrides: Partial<MappingOptions> = {}): MappingOptions => ({
  batchSize: 10,
  windowMs: 0,
  start: { kind: 'earliest' },
  startTime: STREAM_EPOCH,
  ...overrides,
});
const offsetsOf = (batch: SimBatch): Record<string, number[]> =>
  Object.fromEntries(batch.slices.map((s) => [`${s.topic}-${s.partition}`, s.records.map((r) => r.offset)]));

describe('EventSourceMappingSim', () => {
  it('caps a batch at BatchSize records across partitions, sharing out records that arrived together', () => {
    const sim = new EventSourceMappingSim([log('a', 0, range(0, 20)), log('a', 1, range(0, 20))], options({ batchSize: 10 }));
    const batch = sim.poll()!;
    expect(batch.records).toBe(10);
    expect(batch.reason).toBe('full');
    expect(offsetsOf(batch)).toEqual({ 'a-0': [0, 1, 2, 3, 4], 'a-1': [0, 1, 2, 3, 4] });
    // The event is the MSK event Lambda sends.
    expect(Object.keys(batch.event['records'] as object)).toEqual(['a-0', 'a-1']);
    expect(batch.event['eventSource']).toBe('aws:kafka');
  });

  it('commits only after the function succeeds: a failed batch comes again from the same position', () => {
    const sim = new EventSourceMappingSim([log('a', 0, range(0, 25))], options({ batchSize: 10 }));
    const first = sim.poll()!;
    expect(sim.complete(first, { ok: false, error: new Error('boom') })).toEqual({
      committed: 0,
      failedPartitions: new Map(),
      failed: true,
    });
    expect(sim.positions().get('a-0')).toBe(0);
    const again = sim.poll()!;
    expect(offsetsOf(again)).toEqual(offsetsOf(first));
    // A redelivery may be cut differently: same start, other end.
    const shorter = sim.poll({ maxRecords: 3 })!;
    expect(offsetsOf(shorter)).toEqual({ 'a-0': [0, 1, 2] });
    expect(sim.complete(shorter, { ok: true, response: { batchItemFailures: [] } }).committed).toBe(3);
    expect(sim.positions().get('a-0')).toBe(3);
    expect(offsetsOf(sim.poll()!)).toEqual({ 'a-0': range(3, 13) });
  });

  it('never moves a position backwards when overlapping batches complete out of order', () => {
    const sim = new EventSourceMappingSim([log('a', 0, range(0, 30))], options({ batchSize: 10 }));
    const long = sim.poll()!;
    const short = sim.poll({ maxRecords: 4 })!; // a second poller from the same position
    expect(offsetsOf(short)).toEqual({ 'a-0': [0, 1, 2, 3] });
    sim.complete(long, { ok: true, response: undefined });
    expect(sim.complete(short, { ok: true, response: undefined }).committed).toBe(0);
    expect(sim.positions().get('a-0')).toBe(10);
  });

  it('starts a new consumer group at earliest, latest or a timestamp', () => {
    // 5 records in the log before the mapping starts, 5 after.
    const at = (i: number): number => STREAM_EPOCH + (i - 5) * 1000;
    const logs = [log('a', 0, range(0, 10), at)];
    const first = (start: MappingOptions['start']): number | undefined =>
      new EventSourceMappingSim(logs, options({ start })).poll()?.slices[0]?.records[0]?.offset;
    expect(first({ kind: 'earliest' })).toBe(0);
    expect(first({ kind: 'latest' })).toBe(5);
    expect(first({ kind: 'timestamp', ms: STREAM_EPOCH - 2500 })).toBe(3);
    expect(first({ kind: 'timestamp', ms: STREAM_EPOCH - 2000 })).toBe(3);
    expect(first({ kind: 'timestamp', ms: STREAM_EPOCH + 60_000 })).toBeUndefined();
    expect(new EventSourceMappingSim(logs, options({ start: { kind: 'latest' } })).expectedRecords().map((r) => r.offset)).toEqual(
      range(5, 10),
    );
  });

  it('closes a batch when the batching window has elapsed, in virtual time', () => {
    // One record every 100 virtual ms; a 1 s window; BatchSize far above what a window holds.
    const sim = new EventSourceMappingSim(
      [log('a', 0, range(0, 25), (i) => STREAM_EPOCH + i * 100)],
      options({ batchSize: 100, windowMs: 1000 }),
    );
    const first = sim.poll()!;
    expect(first.reason).toBe('window');
    expect(first.openedAt).toBe(STREAM_EPOCH);
    expect(first.closedAt).toBe(STREAM_EPOCH + 1000);
    expect(offsetsOf(first)).toEqual({ 'a-0': range(0, 11) }); // produced at 0, 100, ..., 1000 ms
    sim.complete(first, { ok: true, response: undefined });
    const second = sim.poll()!;
    expect(second.openedAt).toBe(STREAM_EPOCH + 1100); // the poller idles until the next record
    expect(offsetsOf(second)).toEqual({ 'a-0': range(11, 22) });
    // Full before the window elapses: closes at the arrival of the record that fills it.
    const small = new EventSourceMappingSim(
      [log('a', 0, range(0, 25), (i) => STREAM_EPOCH + i * 100)],
      options({ batchSize: 3, windowMs: 1000 }),
    );
    const full = small.poll()!;
    expect(full.reason).toBe('full');
    expect(full.closedAt).toBe(STREAM_EPOCH + 200);
  });

  it('closes a batch before the event would exceed the payload limit', () => {
    const sim = new EventSourceMappingSim([log('a', 0, range(0, 50))], options({ batchSize: 50, maxPayloadBytes: 2000 }));
    const batch = sim.poll()!;
    expect(batch.reason).toBe('payload');
    expect(batch.records).toBeGreaterThan(0);
    expect(batch.records).toBeLessThan(50);
    expect(batch.payloadBytes).toBeLessThanOrEqual(2000);
  });

  it('with a partial batch response, resumes each failed partition at the reported offset and commits the others', () => {
    const sim = new EventSourceMappingSim([log('a', 0, [0, 1, 3, 4, 7]), log('b', 0, range(0, 5))], options({ batchSize: 10 }));
    const batch = sim.poll()!;
    const completion = sim.complete(batch, {
      ok: true,
      response: { batchItemFailures: [{ itemIdentifier: { partition: 'a-0', offset: 3 } }] },
    });
    expect(completion.failed).toBe(false);
    expect(completion.failedPartitions).toEqual(new Map([['a-0', 3]]));
    expect(completion.committed).toBe(2 + 5);
    expect(sim.positions()).toEqual(
      new Map([
        ['a-0', 3],
        ['b-0', undefined],
      ]),
    );
    expect(offsetsOf(sim.poll()!)).toEqual({ 'a-0': [3, 4, 7] });
  });

  it('fails the whole batch when a partial batch response names no record of it', () => {
    const sim = new EventSourceMappingSim([log('a', 0, range(0, 5))], options());
    const batch = sim.poll()!;
    const completion = sim.complete(batch, {
      ok: true,
      response: { batchItemFailures: [{ itemIdentifier: { partition: 'a-0', offset: 2.5 } }] },
    });
    expect(completion.failed).toBe(true);
    expect(sim.positions().get('a-0')).toBe(0);
  });

  it('delivers every record exactly once through commits, across retries', () => {
    const logs = generateStream({ records: 500, topics: 2, partitions: 3, rate: 1000 });
    const sim = new EventSourceMappingSim(logs, options({ batchSize: 37, windowMs: 1000 }));
    const seen: string[] = [];
    let n = 0;
    for (let batch = sim.poll(); batch !== undefined; batch = sim.poll()) {
      const ok = n++ % 3 !== 1; // every third invocation fails
      if (ok) for (const slice of batch.slices) for (const r of slice.records) seen.push(`${r.topic}-${r.partition}@${r.offset}`);
      sim.complete(batch, ok ? { ok: true, response: undefined } : { ok: false });
    }
    expect(sim.drained).toBe(true);
    expect(seen.length).toBe(500);
    expect(new Set(seen).size).toBe(500);
  });
});

describe('local mode sources', () => {
  it('murmur2 matches Kafka (Utils.murmur2 test vectors) and partitions like the default partitioner', () => {
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482);
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536);
    expect(murmur2(Buffer.from('a-little-bit-longer-string'))).toBe(-1486304829);
    expect(murmur2(Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'))).toBe(-58897971);
    expect(partitionForKey(Buffer.from('foobar'), 6)).toBe((-790332482 & 0x7fffffff) % 6);
  });

  it('generates keyed records with skew, sizes and value kinds', () => {
    const even = generateStream({ records: 3000, topics: 1, partitions: 4 });
    const skewed = generateStream({ records: 3000, topics: 1, partitions: 4, keySkew: 1 });
    const largest = (logs: PartitionLog[]): number => Math.max(...logs.map((l) => l.records.length)) / 3000;
    expect(largest(even)).toBeLessThan(0.3);
    expect(largest(skewed)).toBeGreaterThan(largest(even));
    for (const l of skewed) for (const r of l.records) expect(partitionForKey(r.key!, 4)).toBe(l.partition);
    const sized = generateStream({ records: 20, topics: 1, partitions: 1, recordBytes: 1000 });
    for (const r of sized[0]!.records) expect(r.value!.length).toBe(1000);
    const binary = generateStream({ records: 20, topics: 1, partitions: 1, values: 'binary', recordBytes: 64 });
    for (const r of binary[0]!.records) expect([r.value!.length, r.value![0]]).toEqual([64, 0xff]);
    const backlog = generateStream({ records: 10, topics: 1, partitions: 1, backlog: 5, rate: 10 });
    expect(backlog[0]!.records.map((r) => r.producedAt! < STREAM_EPOCH)).toEqual([...Array(5).fill(true), ...Array(10).fill(false)]);
  });

  it('reads JSON Lines records, assigning missing offsets per partition', () => {
    const logs = parseInput(
      [
        '{"topic":"t","partition":0,"offset":5,"timestamp":1764115200000,"key":"k","value":{"a":1},"headers":{"h":"v"}}',
        '{"topic":"t","partition":0,"value":"text"}',
        '',
        '{"topic":"t","partition":1,"valueBase64":"/wA="}',
        '{"topic":"u","key":"customer-1","value":null,"timestamp":"2025-11-26T00:00:01Z"}',
      ].join('\n'),
      'in.jsonl',
      { partitions: 4 },
    );
    const byId = Object.fromEntries(logs.map((l) => [`${l.topic}-${l.partition}`, l.records]));
    expect(byId['t-0']!.map((r) => [r.offset, r.value!.toString()])).toEqual([
      [5, '{"a":1}'],
      [6, 'text'],
    ]);
    expect(byId['t-0']![0]!.headers).toEqual([{ h: [...Buffer.from('v')] }]);
    expect(byId['t-1']![0]!.value).toEqual(Buffer.from([0xff, 0x00]));
    const u = logs.find((l) => l.topic === 'u')!;
    expect(u.partition).toBe(partitionForKey(Buffer.from('customer-1'), 4));
    expect(u.records[0]!).toMatchObject({ offset: 0, value: null, timestamp: Date.parse('2025-11-26T00:00:01Z') });
  });

  it('rejects bad lines with the file and line of each problem', () => {
    const bad = [
      '{"topic":"t","offset":3}',
      'not json',
      '{"topic":"bad topic!"}',
      '{"topic":"t","offset":2}',
      '{"topic":"t","colour":"red"}',
    ].join('\n');
    let error: unknown;
    try {
      parseInput(bad, 'bad.jsonl');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InputFileError);
    const problems = (error as InputFileError).problems;
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/^bad\.jsonl:2: not valid JSON/);
    expect(problems[1]).toMatch(/^bad\.jsonl:3: topic: expected a Kafka topic name/);
    expect(problems[2]).toBe('bad.jsonl:4: offset: 2 is not above the previous offset of t-0 (3); offsets must ascend per partition');
    expect(problems[3]).toMatch(/^bad\.jsonl:5: unknown field "colour"/);
    expect(() => parseInput('\n\n', 'empty.jsonl')).toThrow('empty.jsonl: no records');
  });
});
