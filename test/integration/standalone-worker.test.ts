/**
 * The standalone worker against a real Kafka broker (test/support/test-kafka.ts, topics of 4
 * partitions), the S3 emulator and DynamoDB Local, run as child processes
 * through the real CLI, killed with SIGKILL at random moments and restarted; S3 is then read
 * back with the independent checker: every record exactly once.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestLedgerTable, startS3ForTest, type S3ForTest } from '../support/emulators.ts';
import type { LogRecord } from '../../testkit/kafka/records.ts';
import { check, exactlyOnce, readDelivered } from '../../testkit/read-back.ts';
import {
  emulatorEnv,
  produceKnown,
  startWorker,
  testWorkerProperties,
  writeProperties,
  type WorkerProcess,
} from '../fixtures/standalone/harness.ts';
import { startTestKafka, type TestKafka } from '../support/test-kafka.ts';
import { sleep, until } from '../../testkit/wait.ts';

const PARTITIONS = [0, 1, 2, 3];
let cluster: TestKafka;
let s3: S3ForTest;
let dir: string;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  [cluster, s3] = await Promise.all([
    startTestKafka({
      topics: [
        { name: 'sa-orders', partitions: 4 },
        { name: 'sa-shared', partitions: 4 },
      ],
    }),
    startS3ForTest(),
  ]);
  dir = mkdtempSync(join(tmpdir(), 'standalone-'));
}, 180_000);

afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
  await Promise.all([cluster?.stop(), s3?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

function baseProperties(topic: string, group: string): Record<string, string | number> {
  return { ...testWorkerProperties({ bootstrapServers: cluster.bootstrapServers, bucket: s3.bucket, group }), topics: topic };
}

function lastOffsets(records: readonly LogRecord[]): Map<number, number> {
  const last = new Map<number, number>();
  for (const r of records) last.set(r.partition, Math.max(last.get(r.partition) ?? -1, r.offset));
  return last;
}

describe('standalone worker', () => {
  it('SIGKILLed at random moments and restarted, delivers every record exactly once (file ledger)', async () => {
    const topic = 'sa-orders';
    const ledgerPath = join(dir, 'orders.offsets.json');
    const config = join(dir, 'orders.properties');
    writeProperties(config, { ...baseProperties(topic, 'g-orders'), 'offset.storage.file.filename': ledgerPath });
    const env = emulatorEnv(s3.endpoint);
    const expected: LogRecord[] = [];
    const produced = new Map(PARTITIONS.map((p) => [p, 0]));
    const produce = async (perPartition: number): Promise<void> => {
      for (const p of PARTITIONS) {
        expected.push(...(await produceKnown(cluster, topic, p, produced.get(p)!, perPartition)));
        produced.set(p, produced.get(p)! + perPartition);
      }
    };
    const committed = (): Map<number, number> => {
      if (!existsSync(ledgerPath)) return new Map();
      const file = JSON.parse(readFileSync(ledgerPath, 'utf8')) as { entries: Array<{ partition: number; committedOffset: number }> };
      return new Map(file.entries.map((e) => [e.partition, e.committedOffset]));
    };

    await produce(600);
    const kills: Array<{ round: number; committedAtKill: number }> = [];
    for (let round = 0; round < 4; round++) {
      // The ledger as the killed worker left it (a kill can come before a partition's first batch).
      const inLedger = committed();
      const worker = startWorker(`orders-${round}`, config, env);
      workers.push(worker);
      const positioned = await worker.waitForLog((l) => l['message'] === 'Partitions assigned and positioned');
      // One worker in the group: it is assigned every partition.
      expect(worker.logs.find((l) => l['message'] === 'Joined the consumer group')).toMatchObject({
        groupId: 'g-orders',
        assignments: [{ topic, partitions: PARTITIONS }],
      });
      // After a restart every partition that has delivered anything resumes from the ledger.
      for (const p of positioned['partitions'] as Array<{ partition: string; from: string }>) {
        if (inLedger.has(Number(p.partition.split('-').pop()))) expect(p.from).toBe('ledger');
      }
      if (round > 0) expect(inLedger.size).toBeGreaterThan(0);
      // The killed worker's lock is stale: the restart takes it over and says so.
      if (round > 0) {
        expect(worker.logs.find((l) => l['message'] === 'Took over a stale lock of the offset ledger file')).toMatchObject({
          stalePid: workers[workers.length - 2]!.child.pid,
          reason: expect.stringMatching(/is not running/),
        });
      }
      // The first round delivers something before its kill, so that every restart has a ledger to resume from.
      if (round === 0) await worker.waitForLog((l) => l['message'] === 'Flushed' && Number(l['records']) > 0);
      const producing = produce(150);
      await sleep(150 + Math.floor(Math.random() * 600));
      worker.child.kill('SIGKILL');
      await Promise.all([worker.exited, producing]);
      kills.push({ round, committedAtKill: [...committed().values()].reduce((a, b) => a + b + 1, 0) });
    }
    const final = startWorker('orders-final', config, env);
    workers.push(final);
    // Running (signal handlers installed, partitions positioned) before it is asked to stop: the
    // killed rounds may already have delivered everything.
    await final.waitForLog((l) => l['message'] === 'Partitions assigned and positioned');
    const last = lastOffsets(expected);
    await until(
      'the ledger to reach the end of every partition',
      () => PARTITIONS.every((p) => committed().get(p) === last.get(p)),
      40_000,
    );
    final.child.kill('SIGTERM');
    expect((await final.exited).code, final.text() + JSON.stringify(final.logs.slice(-5))).toBe(0);
    expect(final.logs.some((l) => l['message'] === 'Standalone worker stopped')).toBe(true);

    // The kills landed mid-stream: some rounds had delivered part of the log, none all of it.
    expect(kills.some((k) => k.committedAtKill > 0 && k.committedAtKill < expected.length)).toBe(true);
    const result = check(expected, await readDelivered(s3.client, s3.bucket, 'g-orders/'));
    expect(result.lost).toEqual([]);
    expect(result.duplicated).toEqual([]);
    expect(exactlyOnce(result)).toBe(true);
    expect(result.delivered).toBe(expected.length);
  }, 90_000);

  it('two workers in one group share the partitions; one is killed and restarted; exactly once (DynamoDB ledger)', async () => {
    const topic = 'sa-shared';
    const table = await createTestLedgerTable('standalone');
    const config = join(dir, 'shared.properties');
    writeProperties(config, { ...baseProperties(topic, 'g-shared'), 'ledger.table': table.tableName });
    const env = emulatorEnv(s3.endpoint, table.endpoint);
    const expected: LogRecord[] = [];
    for (const p of PARTITIONS) expected.push(...(await produceKnown(cluster, topic, p, 0, 800)));
    const committed = async (partition: number): Promise<number | undefined> => {
      const { Item } = await table.client.send(
        new GetItemCommand({
          TableName: table.tableName,
          Key: { topic: { S: topic }, partition: { N: String(partition) } },
          ConsistentRead: true,
        }),
      );
      return Item ? Number(Item['committedOffset']?.N) : undefined;
    };
    const assignedTo = (w: WorkerProcess): number[] => {
      const lines = w.logs.filter((l) => l['message'] === 'Partitions assigned and positioned');
      const lastLine = lines[lines.length - 1];
      return ((lastLine?.['partitions'] as Array<{ partition: string }> | undefined) ?? []).map((p) =>
        Number(p.partition.split('-').pop()),
      );
    };

    const split = (x: WorkerProcess, y: WorkerProcess): boolean => {
      const [ax, ay] = [assignedTo(x), assignedTo(y)];
      return ax.length > 0 && ay.length > 0 && ax.length + ay.length === 4 && new Set([...ax, ...ay]).size === 4;
    };
    const produceMore = async (count: number): Promise<void> => {
      for (const p of PARTITIONS) {
        const from = lastOffsets(expected).get(p)! + 1;
        expected.push(...(await produceKnown(cluster, topic, p, from, count)));
      }
    };

    const a = startWorker('shared-a', config, env);
    workers.push(a);
    await a.waitForLog((l) => l['message'] === 'Partitions assigned and positioned');
    const b = startWorker('shared-b', config, env);
    workers.push(b);
    await until('the two workers to split the partitions', () => split(a, b), 60_000);
    await produceMore(200); // delivered by both, each on its own partitions
    await sleep(500);
    a.child.kill('SIGKILL');
    await a.exited;
    await produceMore(200);
    await until('b to take over every partition', () => assignedTo(b).length === 4, 40_000);
    const a2 = startWorker('shared-a2', config, env);
    workers.push(a2);
    await until('the restarted worker and b to split the partitions', () => split(a2, b), 60_000);
    await produceMore(200);
    const last = lastOffsets(expected);
    const done = async () => (await Promise.all(PARTITIONS.map(committed))).every((c, p) => c === last.get(p));
    await until('the ledger to reach the end of every partition', done, 40_000);
    a2.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    expect((await a2.exited).code, JSON.stringify(a2.logs.slice(-5))).toBe(0);
    expect((await b.exited).code, JSON.stringify(b.logs.slice(-5))).toBe(0);
    // A real broker waits for every member's SyncGroup: no join fails and is retried (librdkafka's
    // mock answered a late follower's SyncGroup with INVALID_REQUEST, and the worker retried).
    for (const w of [a, b, a2])
      expect(
        w.logs.filter((l) => String(l['message']).startsWith('Joining the consumer group failed')),
        w.name,
      ).toEqual([]);
    // Each newcomer found the other member in the group and said it waits for it to rejoin.
    for (const w of [b, a2]) {
      expect(
        w.logs.find((l) => String(l['message']).startsWith("Waiting for the consumer group's members")),
        w.name,
      ).toMatchObject({ groupId: 'g-shared', sessionTimeoutMs: 3000 });
    }
    // Both delivered records while they shared the group.
    for (const w of [a, b, a2])
      expect(
        w.logs.some((l) => l['message'] === 'Flushed' && Number(l['records']) > 0),
        w.name,
      ).toBe(true);
    const result = check(expected, await readDelivered(s3.client, s3.bucket, 'g-shared/'));
    expect(result.lost).toEqual([]);
    expect(result.duplicated).toEqual([]);
    expect(exactlyOnce(result)).toBe(true);
  }, 120_000);
});
