/** The test kit's shared pieces that local mode, the benchmark and the tests all lean on. */
import { describe, expect, it } from 'vitest';
import { toKafkaEvent } from '../../testkit/kafka/events.ts';
import { generateLog, generateStream, timedLog } from '../../testkit/kafka/generate.ts';
import { EventSourceMappingSim } from '../../testkit/kafka/mapping.ts';
import { type LogRecord, rng, valueKindOf } from '../../testkit/kafka/records.ts';
import { lambdaContext } from '../../testkit/lambda-context.ts';
import { formatOf, generationOf, parquetTopicOf, rawSeparator, rawValues } from '../../testkit/read-objects.ts';

const record = (value: Buffer | null, kind?: LogRecord['kind']): LogRecord => ({
  topic: 't',
  partition: 0,
  offset: 0,
  timestamp: 0,
  key: null,
  value,
  ...(kind === undefined ? {} : { kind }),
});

describe('valueKindOf', () => {
  it('takes the kind a record states, and judges the value of a record that states none', () => {
    expect(valueKindOf(record(Buffer.from('not json'), 'poison'))).toBe('poison');
    expect(valueKindOf(record(null))).toBe('tombstone');
    expect(valueKindOf(record(Buffer.from('{"id":"t/0/0"}')))).toBe('json');
    expect(valueKindOf(record(Buffer.from('plain text')))).toBe('text');
    expect(valueKindOf(record(Buffer.from([0xff, 0xfe, 0x00])))).toBe('binary');
  });

  it('agrees with the kind the protocol generator states for every record it makes', () => {
    const log = generateLog({ topic: 't', partition: 0, count: 500, random: rng(7), textRate: 0.1 });
    expect(new Set(log.map((r) => r.kind))).toEqual(new Set(['json', 'text', 'binary', 'tombstone']));
    for (const r of log) expect(valueKindOf({ ...r, kind: undefined })).toBe(r.kind);
  });
});

describe('toKafkaEvent', () => {
  it('builds the MSK event of local mode and the self-managed event of the tests from one log model', () => {
    const [log] = generateStream({ records: 3, topics: 1, partitions: 1, values: 'binary' });
    const msk = toKafkaEvent([log!]);
    expect(msk['eventSource']).toBe('aws:kafka');
    expect(msk['eventSourceArn']).toMatch(/^arn:aws:kafka:/);
    const [first] = msk.records['sim.orders-0'] as Array<Record<string, unknown>>;
    expect(first).toMatchObject({ topic: 'sim.orders', partition: 0, offset: 0, timestampType: 'CREATE_TIME', headers: [] });
    expect(Buffer.from(String(first!['value']), 'base64').equals(log!.records[0]!.value!)).toBe(true);
    const selfManaged = toKafkaEvent([log!], 'SelfManagedKafka');
    expect(selfManaged['eventSourceArn']).toBeUndefined();
    expect(toKafkaEvent([{ topic: 'x', partition: 1, records: [] }]).records).toEqual({});
  });
});

describe('lambdaContext', () => {
  it('names the function throughout and counts the remaining time down from the timeout', () => {
    const context = lambdaContext('msk-s3-sink-local', { timeoutMs: 300_000 });
    expect(context.invokedFunctionArn).toBe('arn:aws:lambda:us-east-1:123456789012:function:msk-s3-sink-local');
    expect(context.logGroupName).toBe('/aws/lambda/msk-s3-sink-local');
    expect(context.logStreamName).toMatch(/^\d{4}\/\d\d\/\d\d\/\[\$LATEST\][0-9a-f]{32}$/);
    const remaining = context.getRemainingTimeInMillis();
    expect(remaining).toBeGreaterThan(0);
    expect(remaining).toBeLessThanOrEqual(300_000);
    expect(lambdaContext('f').awsRequestId).not.toBe(lambdaContext('f').awsRequestId);
    expect(lambdaContext('f', { requestId: 'r', logStreamName: 's' })).toMatchObject({ awsRequestId: 'r', logStreamName: 's' });
  });
});

describe("read-objects (the read-back checkers' shared reading)", () => {
  it("tells an object's format, generation and Parquet topic from its key", () => {
    expect(formatOf('topics/t/partition=0/t+0+00000000000000000007.jsonl.gz')).toBe('jsonl');
    expect(formatOf('topics/t/partition=0/t+0+00000000000000000007.bin.zst')).toBe('raw');
    expect(formatOf('topics/t.v2/partition=0/t.v2+0+00000000000000000007+g2.parquet')).toBe('parquet');
    expect(generationOf('topics/t/partition=0/t+0+00000000000000000007+g3.jsonl.gz')).toBe(3);
    expect(generationOf('topics/t/partition=0/t+0+00000000000000000007.jsonl')).toBe(0);
    expect(parquetTopicOf('topics/t.v2/partition=0/t.v2+0+00000000000000000007+g2.parquet')).toBe('t.v2');
  });

  it('splits raw bytes on the separator the sink was given, and refuses a body that does not end with it', () => {
    expect(rawSeparator(undefined).toString()).toBe('\n');
    const separator = rawSeparator('\\u0000|');
    expect([...separator]).toEqual([0, 0x7c]);
    const body = Buffer.concat([Buffer.from('a'), separator, Buffer.from([0xff]), separator]);
    expect(rawValues(body, separator)?.map((v) => v.toString('hex'))).toEqual(['61', 'ff']);
    expect(rawValues(Buffer.from('a'), separator)).toBeUndefined();
    expect(rawValues(Buffer.alloc(0), separator)).toEqual([]);
  });
});

describe("EventSourceMappingSim.consumerGroup (the chaos suite's adversarial driving)", () => {
  const logs = () => [timedLog('a', 0, 10, 0, 1), timedLog('a', 1, 4, 0, 1)];
  const offsets = (slices: ReturnType<EventSourceMappingSim['pollSlices']>) =>
    Object.fromEntries(slices.map((s) => [`${s.topic}-${s.partition}`, s.records.map((r) => r.offset)]));

  it('polls 1 to max records per partition from the positions, moving nothing until a commit', () => {
    const group = EventSourceMappingSim.consumerGroup(logs(), rng(3));
    const first = group.pollSlices(3);
    expect(first.map((s) => s.records[0]!.offset)).toEqual([0, 0]);
    for (const slice of first) expect(slice.records.length).toBeGreaterThanOrEqual(1);
    for (const slice of first) expect(slice.records.length).toBeLessThanOrEqual(3);
    expect(group.pollSlices(3).map((s) => s.records[0]!.offset)).toEqual([0, 0]);
    group.commitSlices(first);
    expect(group.pollSlices(1).map((s) => s.records[0]!.offset)).toEqual(first.map((s) => s.records.length));
  });

  it('commits backwards as a late commit does, skips records, and drains when every partition is past its end', () => {
    const group = EventSourceMappingSim.consumerGroup(logs(), rng(3));
    group.commitAt('a', 0, 8);
    group.commitAt('a', 0, 5);
    expect(group.skip(1, 3).map((r) => r.offset)).toEqual([0, 1, 2]);
    expect(offsets(group.pollSlices(1))).toEqual({ 'a-0': [5], 'a-1': [3] });
    group.commitAt('a', 1, 99);
    expect(group.drained).toBe(false);
    group.commitAt('a', 0, 10);
    expect(group.drained).toBe(true);
    expect(group.skip(0, 2)).toEqual([]);
    group.rewind(2);
    expect(group.drained).toBe(false);
  });

  it('needs its random draws for random boundaries', () => {
    const plain = new EventSourceMappingSim([{ topic: 'a', partition: 0, records: timedLog('a', 0, 3, 0, 1) }], {
      batchSize: 10,
      windowMs: 0,
      start: { kind: 'earliest' },
      startTime: 0,
    });
    expect(() => plain.pollSlices(2)).toThrow(/random/);
  });
});
