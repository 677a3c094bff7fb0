import { PutObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../lib/ops/cli.ts';
import {
  createEmulatorSink,
  createTestLedgerTable,
  type LedgerTableForTest,
  type S3ForTest,
  startS3ForTest,
} from '../support/emulators.ts';
import { generateLog, timedLog } from '../../testkit/kafka/generate.ts';
import { type LogRecord, rng } from '../../testkit/kafka/records.ts';
import { toKafkaEvent } from '../../testkit/kafka/events.ts';
import { check, exactlyOnce, readDelivered } from '../../testkit/read-back.ts';
import { useOpsWorld } from '../support/ops-world.ts';

/**
 * The operations command line against the emulators: status, verify (and the inconsistencies it
 * must catch), locate, reset then redeliver, prune — as an operator would run them.
 */
describe('msk-s3-sink operations on the emulators', () => {
  const world = useOpsWorld('ops', { now: Date.UTC(2026, 10, 26, 12) });
  const { cli } = world;
  const topic = 'ops.orders-v1';
  const logs = [0, 1].map((partition) => generateLog({ topic, partition, count: 60, random: rng(100 + partition), gapRate: 0.1 }));

  /** Delivers records as the mapping would: in batches, through the real sink. */
  const deliver = (slices: Array<{ partition: number; records: readonly LogRecord[] }>, batch?: number) =>
    world.deliver(topic, slices, batch);

  beforeAll(async () => {
    await deliver(logs.map((records, partition) => ({ partition, records })));
  });

  it('status shows every partition: committed offset, generation, last object', async () => {
    const { code, json } = await cli('status', '--json');
    expect(code).toBe(0);
    expect(json()).toMatchObject([
      { topic, partition: 0, generation: 0, committedOffset: logs[0]!.at(-1)!.offset, resets: 0 },
      { topic, partition: 1, generation: 0, committedOffset: logs[1]!.at(-1)!.offset, resets: 0 },
    ]);
    const table = await cli('status');
    expect(table.stdout).toContain('committed');
    expect(table.stdout).toContain(`${topic}`);
  });

  it('verify finds S3 and the ledger in agreement', async () => {
    const { code, stdout } = await cli('verify', '--read');
    expect(stdout).toContain('OK: S3 and the ledger agree');
    expect(code).toBe(0);
  });

  it('locate finds the object holding an offset, and says when one is not delivered', async () => {
    const offset = logs[1]![33]!.offset;
    const found = await cli('locate', '--topic', topic, '--partition', '1', '--offset', String(offset), '--json');
    expect(found.code).toBe(0);
    expect(found.json()).toMatchObject({ offset, generation: 0 });
    const body = (await world.s3.client.send(new GetObjectCommand({ Bucket: world.s3.bucket, Key: found.json().key }))).Body!;
    expect((await body.transformToByteArray()).length).toBeGreaterThan(0);
    const missing = await cli('locate', '--topic', topic, '--partition', '1', '--offset', String(logs[1]!.at(-1)!.offset + 100));
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('Not delivered');
    const byTime = await cli('locate', '--topic', topic, '--partition', '0', '--timestamp', String(logs[0]![20]!.timestamp), '--json');
    expect(byTime.json()).toMatchObject({ offset: logs[0]![20]!.offset, timestamp: logs[0]![20]!.timestamp });
  });

  describe('verify catches what breaks exactly-once', () => {
    const chainKey = async (partition: number, index: number) => {
      const status = (await cli('verify', '--json')).json();
      expect(status.errors).toBe(0);
      const listed = await world.s3.client.send(
        new (await import('@aws-sdk/client-s3')).ListObjectsV2Command({
          Bucket: world.s3.bucket,
          Prefix: `topics/${topic}/partition=${partition}/`,
        }),
      );
      return listed.Contents![index]!.Key!;
    };

    it('a gap: an object of the chain is missing', async () => {
      const key = await chainKey(0, 2);
      const saved = await world.s3.client.send(new GetObjectCommand({ Bucket: world.s3.bucket, Key: key }));
      const body = await saved.Body!.transformToByteArray();
      await world.s3.client.send(new DeleteObjectCommand({ Bucket: world.s3.bucket, Key: key }));
      const { code, stdout } = await cli('verify');
      expect(code).toBe(1);
      expect(stdout).toMatch(/ERROR gap ops\.orders-v1-0 .*records lost/);
      await world.s3.client.send(new PutObjectCommand({ Bucket: world.s3.bucket, Key: key, Body: body, Metadata: saved.Metadata }));
      expect((await cli('verify')).code).toBe(0);
    });

    it('an overlap, an orphan and an unreadable object', async () => {
      const key = await chainKey(1, 1);
      const head = await world.s3.client.send(new HeadObjectCommand({ Bucket: world.s3.bucket, Key: key }));
      const first = Number(head.Metadata!['first-offset']);
      const last = Number(head.Metadata!['last-offset']);
      const committed = logs[1]!.at(-1)!.offset;
      const plant = (offset: number, metadata: Record<string, string>) =>
        world.s3.client.send(
          new PutObjectCommand({
            Bucket: world.s3.bucket,
            Key: `topics/${topic}/partition=1/${topic}+1+${String(offset).padStart(20, '0')}.jsonl`,
            Body: '',
            Metadata: { ...head.Metadata, ...metadata },
          }),
        );
      // Overlap: an object starting inside a committed one.
      await plant(first + 1, { 'first-offset': String(first + 1), 'after-offset': String(first), 'last-offset': String(last + 3) });
      // Orphan: an object beyond the committed offset, as a dead invocation leaves.
      await plant(committed + 5, {
        'first-offset': String(committed + 5),
        'after-offset': String(committed),
        'last-offset': String(committed + 9),
      });
      // Unreadable: metadata that contradicts itself.
      await plant(committed + 50, { 'first-offset': String(committed + 50), 'after-offset': 'x', 'last-offset': String(committed + 51) });
      const result = await cli('verify', '--json');
      expect(result.code).toBe(1);
      const kinds = result.json().findings.map((f: { kind: string }) => f.kind);
      expect(kinds).toEqual(expect.arrayContaining(['overlap', 'orphan', 'unreadable']));
      for (const offset of [first + 1, committed + 5, committed + 50]) {
        await world.s3.client.send(
          new DeleteObjectCommand({
            Bucket: world.s3.bucket,
            Key: `topics/${topic}/partition=1/${topic}+1+${String(offset).padStart(20, '0')}.jsonl`,
          }),
        );
      }
      expect((await cli('verify')).code).toBe(0);
    });
  });

  it('reset refuses to guess whether the mapping is running, and dry-run changes nothing', async () => {
    const refused = await cli('reset', '--topic', topic, '--partition', '0', '--to-offset', '10', '--reason', 'test');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--function');
    const dry = await cli(
      'reset',
      '--topic',
      topic,
      '--partition',
      '0',
      '--to-offset',
      '10',
      '--reason',
      'replay test',
      '--dry-run',
      '--json',
    );
    expect(dry.code).toBe(0);
    expect(dry.json().steps).toMatchObject([{ partition: 0, nextOffset: 10, toGeneration: 1, direction: 'replay' }]);
    expect((await cli('status', '--json')).json()[0].generation).toBe(0);
  });

  it('replays a range: reset, redeliver, verify — the range again, once, in the new generation', async () => {
    const from = logs[0]![25]!.offset;
    const reset = await cli(
      'reset',
      '--topic',
      topic,
      '--partition',
      '0',
      '--to-offset',
      String(from),
      '--reason',
      'backfill after a bug',
      '--by',
      'alice',
      '--force',
      '--id',
      'replay-1',
    );
    expect(reset.code).toBe(0);
    // Running it again (resuming) changes nothing more.
    expect(
      (
        await cli(
          'reset',
          '--topic',
          topic,
          '--partition',
          '0',
          '--to-offset',
          String(from),
          '--reason',
          'again',
          '--force',
          '--id',
          'replay-1',
        )
      ).code,
    ).toBe(0);
    const status = (await cli('status', '--json')).json();
    expect(status[0]).toMatchObject({ generation: 1, committedOffset: from - 1, resets: 1 });
    // The mapping redelivers from the reset point (its consumer group was reset too).
    await deliver([{ partition: 0, records: logs[0]!.filter((record) => record.offset >= from) }], 7);
    const delivered = await readDelivered(world.s3.client, world.s3.bucket, 'topics/');
    const partition0 = delivered.filter((line) => line.line['partition'] === 0);
    expect(
      exactlyOnce(
        check(
          logs[0]!.filter((r) => r.offset >= from),
          partition0,
          { generation: 1 },
        ),
      ),
    ).toBe(true);
    expect(exactlyOnce(check(logs[0]!, partition0, { generation: 0 }))).toBe(true);
    const verified = await cli('verify', '--read');
    expect(verified.stdout).toContain('OK: S3 and the ledger agree');
    expect(verified.code).toBe(0);
    // The table counts every current object: generation 0's up to the reset point and generation 1's.
    const listed = await world.s3.client.send(
      new (await import('@aws-sdk/client-s3')).ListObjectsV2Command({ Bucket: world.s3.bucket, Prefix: `topics/${topic}/partition=0/` }),
    );
    const firstOffsets = listed
      .Contents!.map((c) => /\+(\d{20})(\+g1)?\.jsonl/.exec(c.Key!)!)
      .map((m) => ({ first: Number(m[1]), generation: m[2] ? 1 : 0 }));
    const current = firstOffsets.filter((o) => o.generation === 1 || o.first < from).length;
    expect(current).toBeGreaterThan(firstOffsets.filter((o) => o.generation === 1).length);
    const summary = (await cli('verify', '--json')).json().partitions[0];
    expect(summary.objects).toBe(current);
    if (summary.recordsExact) expect(summary.records).toBe(logs[0]!.length);
    else expect(summary.records).toBeLessThan(logs[0]!.length);
    // --strict fails on the superseded objects' warning, and then never says OK.
    const strict = await cli('verify', '--strict');
    expect(strict.code).toBe(1);
    expect(strict.stdout).not.toContain('OK: S3 and the ledger agree');
    expect(strict.stdout).toContain('NOT OK (--strict)');
    // The current object for a replayed offset is the new generation's.
    expect((await cli('locate', '--topic', topic, '--partition', '0', '--offset', String(from), '--json')).json()).toMatchObject({
      generation: 1,
    });
    // Objects of generation 0 wholly after the replay point are superseded: prune lists, then deletes them.
    const dry = (await cli('prune', '--dry-run', '--json')).json();
    expect(dry.keys.length).toBeGreaterThan(0);
    expect(dry.keys.every((key: string) => !key.includes('+g1'))).toBe(true);
    expect((await cli('prune', '--yes')).code).toBe(0);
    expect((await cli('prune', '--dry-run', '--json')).json().keys).toEqual([]);
    expect((await cli('verify')).code).toBe(0);
    // The audit trail is in the ledger.
    const item = await world.ledger.client.send(
      new (await import('@aws-sdk/client-dynamodb')).GetItemCommand({
        TableName: world.ledger.tableName,
        Key: { topic: { S: topic }, partition: { N: '0' } },
      }),
    );
    expect(item.Item!['resets']!.L![0]!.M).toMatchObject({
      id: { S: 'replay-1' },
      by: { S: 'alice' },
      reason: { S: 'backfill after a bug' },
    });
  });

  it('gives one clear error for bad arguments', async () => {
    expect((await cli('frobnicate')).stderr).toContain('unknown command "frobnicate"');
    expect((await cli('status', '--nope')).code).toBe(2);
    expect((await cli('locate', '--topic', topic, '--partition', 'x', '--offset', '1')).stderr).toContain(
      '--partition must be a non-negative integer',
    );
    expect((await cli('reset', '--topic', topic, '--force', '--reason', 'r')).stderr).toContain('give exactly one of --to-offset');
    expect((await cli('reset', '--topic', topic, '--force', '--to-earliest')).stderr).toContain('--reason is required');
    expect((await cli('replay', '--topic', topic, '--function', 'f', '--reason', 'r', '--to-earliest')).stderr).toContain(
      '--bootstrap-servers',
    );
  });
});

describe('msk-s3-sink manifest on the emulators (time partitioner)', () => {
  let s3: S3ForTest;
  let ledger: LedgerTableForTest;
  const layoutEnv = { SINK_PARTITIONER: 'time', SINK_ROTATE_MAX_RECORDS: '4' };
  const T0 = Date.UTC(2026, 10, 26, 10);
  const topic = 'hourly';

  beforeAll(async () => {
    s3 = await startS3ForTest();
    ledger = await createTestLedgerTable('manifest');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
    const sink = createEmulatorSink(s3, ledger, layoutEnv);
    // Two partitions, a record every 10 minutes from 10:00; partition 1 stops at 11:40.
    const records = (partition: number, count: number) => timedLog(topic, partition, count, T0, 10 * 60_000);
    await sink.handle(
      toKafkaEvent([
        { topic, partition: 0, records: records(0, 20) },
        { topic, partition: 1, records: records(1, 11) },
      ]),
    );
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await s3?.stop();
  });

  const cli = async (...argv: string[]) => {
    let stdout = '';
    let stderr = '';
    const env = {
      SINK_BUCKET: s3.bucket,
      LEDGER_TABLE: ledger.tableName,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: ledger.endpoint,
      ...layoutEnv,
    };
    const code = await runCli(argv, env, {
      stdout: { write: (t: string) => (stdout += t) },
      stderr: { write: (t: string) => (stderr += t) },
      now: Date.now,
    });
    return { code, stdout, stderr, json: () => JSON.parse(stdout) };
  };

  it('writes a manifest in every hour all partitions have passed, once', async () => {
    const dry = await cli('manifest', '--topic', topic, '--partitions', '2', '--dry-run', '--json');
    expect(dry.code, dry.stderr).toBe(0);
    // Partition 1 reached 11:40: only the 10:00 hour is complete; 11:00 waits for partition 1.
    expect(dry.json().due).toEqual([`topics/${topic}/year=2026/month=11/day=26/hour=10/_manifest.json`]);
    expect(dry.json().pending.some((p: { waitingFor: number[] }) => p.waitingFor.includes(1))).toBe(true);
    const written = await cli('manifest', '--topic', topic, '--partitions', '2', '--json');
    expect(written.json().written).toEqual(dry.json().due);
    const document = JSON.parse(
      Buffer.from(
        await (await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: dry.json().due[0] }))).Body!.transformToByteArray(),
      ).toString('utf8'),
    );
    expect(document).toMatchObject({ topic, start: '2026-11-26T10:00:00.000Z', end: '2026-11-26T11:00:00.000Z' });
    expect((await cli('manifest', '--topic', topic, '--partitions', '2', '--json')).json()).toMatchObject({
      written: [],
      existing: dry.json().due,
    });
    // The default layout has no time partitions to mark: one clear error.
    let stderr = '';
    const code = await runCli(
      ['manifest', '--topic', topic],
      {
        SINK_BUCKET: s3.bucket,
        LEDGER_TABLE: ledger.tableName,
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: ledger.endpoint,
      },
      {
        stdout: { write: () => true },
        stderr: { write: (t: string) => (stderr += t) },
        now: Date.now,
      },
    );
    expect(code).toBe(1);
    expect(stderr).toContain('completeness markers need the time partitioner');
  });
});
