import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { hostname, userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateLog } from '../../testkit/kafka/generate.ts';
import { type LogRecord, rng } from '../../testkit/kafka/records.ts';
import { useOpsWorld } from '../support/ops-world.ts';

/**
 * `prune` against the emulators: it must never delete a current object. A HEAD that fails (a
 * 503 from the S3 emulator, past the SDK's retries) once cut verify's chain walk, and every later
 * object of that superseded generation, current ones included, went to the delete list; prune
 * then deleted them at once. Now: a partition with an error is refused, what is prunable comes
 * from the generation windows of the ledger's history, prune is a dry run unless `--yes`, and it
 * leaves an audit record on the ledger item (shown by `history`).
 */
describe('msk-s3-sink prune on the emulators', () => {
  const world = useOpsWorld('prune', { now: Date.UTC(2026, 11, 3, 9) });
  const { cli } = world;
  const topic = 'prune.orders';
  // Dense offsets: each batch of ten records is one object of ten offsets.
  const logs = [0, 1].map((partition) => generateLog({ topic, partition, count: 60, random: rng(7 + partition), gapRate: 0 }));
  const replayFrom = 25;

  const deliver = (slices: Array<{ partition: number; records: readonly LogRecord[] }>, batch: number) =>
    world.deliver(topic, slices, batch);

  const keys = async (partition: number): Promise<string[]> => {
    const listed = await world.s3.client.send(
      new ListObjectsV2Command({ Bucket: world.s3.bucket, Prefix: `topics/${topic}/partition=${partition}/` }),
    );
    return (listed.Contents ?? []).map((c) => c.Key!).sort();
  };
  /** The generation-0 object of a partition that starts at `first`. */
  const generation0 = (partition: number, first: number) =>
    `topics/${topic}/partition=${partition}/${topic}+${partition}+${String(first).padStart(20, '0')}.jsonl.gz`;
  const exists = async (key: string) =>
    world.s3.client.send(new HeadObjectCommand({ Bucket: world.s3.bucket, Key: key })).then(
      () => true,
      () => false,
    );
  const ledgerItem = async (partition: number) =>
    (
      await world.ledger.client.send(
        new GetItemCommand({ TableName: world.ledger.tableName, Key: { topic: { S: topic }, partition: { N: String(partition) } } }),
      )
    ).Item!;

  beforeAll(async () => {
    await deliver(
      logs.map((records, partition) => ({ partition, records })),
      10,
    );
    // Replay both partitions from offset 25: generation 0 stays current up to 24 (its object
    // 20-29 in part), generation 1 holds 25-59.
    const reset = await cli(
      'reset',
      '--topic',
      topic,
      '--to-offset',
      String(replayFrom),
      '--reason',
      'backfill',
      '--by',
      'alice',
      '--force',
      '--id',
      'reset-1',
      '--partition',
      '0',
      '--partition',
      '1',
    );
    expect(reset.code, reset.stderr).toBe(0);
    await deliver(
      logs.map((records, partition) => ({ partition, records: records.filter((r) => r.offset >= replayFrom) })),
      7,
    );
  });

  afterAll(() => world.s3?.emulator.setFaults(undefined));

  it('refuses a partition whose HEAD fails (503), deletes nothing of it, and prunes only the others', async () => {
    const before = await keys(0);
    // Generation 0's object 10-19 of partition 0 cannot be read: every HEAD of it gets 503.
    const failing = generation0(0, 10);
    world.s3.emulator.setFaults((request) =>
      request.operation === 'HeadObject' && request.key === failing ? { kind: 'error', status: 503, code: 'SlowDown' } : undefined,
    );
    try {
      // No --by: against the emulators the record names user@host.
      const run = await cli('prune', '--yes');
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/REFUSED prune\.orders-0: 2 error\(s\)/);
      expect(run.stdout).toContain('its metadata cannot be read: HEAD answered HTTP 503');
      expect(await keys(0)).toEqual(before);
      // Above all the object that still holds current offsets 20-24.
      expect(await exists(generation0(0, 20))).toBe(true);
      await expect(ledgerItem(0)).resolves.not.toHaveProperty('prunes');
      // Partition 1 has no error: its three wholly superseded objects (30-39, 40-49, 50-59) went.
      expect(await exists(generation0(1, 20))).toBe(true);
      for (const first of [30, 40, 50]) expect(await exists(generation0(1, first))).toBe(false);
    } finally {
      world.s3.emulator.setFaults(undefined);
    }
  });

  it('is a dry run unless --yes, then deletes only what lies wholly outside its window and records who, when, what, how many', async () => {
    const before = await keys(0);
    const dry = await cli('prune');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('Would delete 3 superseded object(s)');
    expect(dry.stdout).toContain('dry run: nothing deleted; run again with --yes to delete');
    expect(await keys(0)).toEqual(before);
    const plan = (await cli('prune', '--json')).json();
    expect(plan).toMatchObject({ dryRun: true, keys: [30, 40, 50].map((first) => generation0(0, first)) });

    const run = await cli('prune', '--yes', '--by', 'bob', '--reason', 'reclaim space', '--id', 'prune-1');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Deleted 3 superseded object(s)');
    expect(await keys(0)).toEqual(before.filter((key) => !plan.keys.includes(key)));
    expect(await exists(generation0(0, 20))).toBe(true);
    expect((await cli('verify')).code).toBe(0);
    expect((await cli('prune', '--json')).json().keys).toEqual([]);

    const prunes = (await ledgerItem(0))['prunes']!.L!;
    expect(prunes).toHaveLength(1);
    expect(prunes[0]!.M).toMatchObject({
      id: { S: 'prune-1' },
      at: { S: '2026-12-03T09:00:00.000Z' },
      by: { S: 'bob' },
      reason: { S: 'reclaim space' },
      generations: { L: [{ N: '0' }] },
      fromOffset: { N: '30' },
      toOffset: { N: '59' },
      objects: { N: '3' },
    });
    expect(Number(prunes[0]!.M!['bytes']!.N)).toBeGreaterThan(0);
  });

  it('history shows every reset and prune: when, who, what, from, to, why', async () => {
    const rows = (await cli('history', '--topic', topic, '--json')).json();
    const at = '2026-12-03T09:00:00.000Z';
    expect(rows).toEqual([
      expect.objectContaining({
        at,
        action: 'reset',
        partition: 0,
        id: 'reset-1',
        by: 'alice',
        fromGeneration: 0,
        fromOffset: 59,
        toGeneration: 1,
        toOffset: 24,
        reason: 'backfill',
      }),
      expect.objectContaining({
        at,
        action: 'prune',
        partition: 0,
        id: 'prune-1',
        by: 'bob',
        generations: [0],
        fromOffset: 30,
        toOffset: 59,
        objects: 3,
        reason: 'reclaim space',
      }),
      expect.objectContaining({ at, action: 'reset', partition: 1, id: 'reset-1', by: 'alice' }),
      expect.objectContaining({
        at,
        action: 'prune',
        partition: 1,
        by: `${userInfo().username}@${hostname()}`,
        objects: 3,
        reason: 'delete objects superseded by a later generation',
      }),
    ]);
    const human = await cli('history', '--topic', topic, '--partition', '0');
    expect(human.stdout).toMatch(/^at\s+topic\s+partition\s+action\s+id\s+by\s+from\s+to\s+reason\n/);
    expect(human.stdout).toMatch(/prune\.orders\s+0\s+reset \(replay\)\s+reset-1\s+alice\s+g0@59\s+g1@24\s+backfill\n/);
    expect(human.stdout).toMatch(
      /prune\.orders\s+0\s+prune 3 objects of g0 \(\d+(\.\d)? (B|KiB)\)\s+prune-1\s+bob\s+30\s+59\s+reclaim space\n$/,
    );
  });
});
