/**
 * `topics.regex` picks up topics created while the worker runs, at `consumer.metadata.max.age.ms`,
 * as a Kafka consumer's pattern subscription does. Against a real Kafka broker
 * (test/support/test-kafka.ts), the S3 emulator and the worker as a child process of the real CLI.
 * Topics are created with CreateTopics (4 partitions), and partitions are added with
 * CreatePartitions (which librdkafka's mock cluster, the earlier peer, could not do).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  emulatorEnv,
  produceKnown,
  startWorker,
  testWorkerProperties,
  writeProperties,
  type WorkerProcess,
} from '../fixtures/standalone/harness.ts';
import { startS3ForTest, type S3ForTest } from '../support/emulators.ts';
import type { LogRecord } from '../../testkit/kafka/records.ts';
import { check, exactlyOnce, readDelivered } from '../../testkit/read-back.ts';
import { startTestKafka, type TestKafka } from '../support/test-kafka.ts';
import { until } from '../../testkit/wait.ts';

const PARTITIONS = [0, 1, 2, 3];
const FIRST = 'rx-orders-a';
const CREATED = 'rx-orders-b';
/** Created at the same moment; `topics.regex` does not match it. */
const UNMATCHED = 'rx-payments';
const GROUP = 'g-regex';

let cluster: TestKafka;
let s3: S3ForTest;
let dir: string;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  [cluster, s3] = await Promise.all([
    startTestKafka({
      topics: [
        { name: FIRST, partitions: 4 },
        { name: 'rx-gone-a', partitions: 4 },
      ],
    }),
    startS3ForTest(),
  ]);
  dir = mkdtempSync(join(tmpdir(), 'standalone-regex-'));
}, 180_000);

afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
  await Promise.all([cluster?.stop(), s3?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

type Positioned = Array<{ partition: string; position: number; from: string }>;

describe('standalone worker with topics.regex', () => {
  it('picks up a matching topic created while it runs, at consumer.metadata.max.age.ms, and delivers it exactly once', async () => {
    const ledgerPath = join(dir, 'regex.offsets.json');
    const config = join(dir, 'regex.properties');
    writeProperties(config, {
      ...testWorkerProperties({ bootstrapServers: cluster.bootstrapServers, bucket: s3.bucket, group: GROUP, flushSize: 100 }),
      'topics.regex': 'rx-orders-.*',
      'consumer.metadata.max.age.ms': 1000,
      'offset.storage.file.filename': ledgerPath,
    });
    const expected: LogRecord[] = [];
    const produced = new Map<string, number>();
    const produce = async (topic: string, perPartition: number): Promise<LogRecord[]> => {
      const records: LogRecord[] = [];
      for (const p of PARTITIONS) {
        const key = `${topic}-${p}`;
        records.push(...(await produceKnown(cluster, topic, p, produced.get(key) ?? 0, perPartition)));
        produced.set(key, (produced.get(key) ?? 0) + perPartition);
      }
      return records;
    };
    const committed = (): Map<string, number> => {
      if (!existsSync(ledgerPath)) return new Map();
      const file = JSON.parse(readFileSync(ledgerPath, 'utf8')) as {
        entries: Array<{ topic: string; partition: number; committedOffset: number }>;
      };
      return new Map(file.entries.map((e) => [`${e.topic}-${e.partition}`, e.committedOffset]));
    };
    const positioned = (w: WorkerProcess): string[] =>
      w.logs
        .filter((l) => l['message'] === 'Partitions assigned and positioned')
        .flatMap((l) => (l['partitions'] as Positioned).map((p) => p.partition));

    expected.push(...(await produce(FIRST, 50)));
    const worker = startWorker('regex', config, emulatorEnv(s3.endpoint));
    workers.push(worker);
    const started = await worker.waitForLog((l) => l['message'] === 'Standalone worker starting');
    expect(started['topics']).toEqual([FIRST]);
    await worker.waitForLog((l) => l['message'] === 'Partitions assigned and positioned');

    // Both topics come into being now, with records.
    await cluster.createTopics([
      { name: CREATED, partitions: 4 },
      { name: UNMATCHED, partitions: 4 },
    ]);
    expected.push(...(await produce(CREATED, 60)));
    await produce(UNMATCHED, 20);
    const added = await worker.waitForLog(
      (l) => l['message'] === 'New topics or partitions: joining the group again to have them assigned',
      20_000,
    );
    expect(added['topicsAdded']).toEqual([{ topic: CREATED, partitions: 4 }]);
    expect(added['partitionsAdded']).toEqual([]);
    const both = await worker.waitForLog(
      (l) =>
        l['message'] === 'Partitions assigned and positioned' &&
        (l['partitions'] as Positioned).some((p) => p.partition.startsWith(CREATED)),
      30_000,
    );
    expect((both['partitions'] as Positioned).map((p) => p.partition).sort()).toEqual(
      [...PARTITIONS.map((p) => `${FIRST}-${p}`), ...PARTITIONS.map((p) => `${CREATED}-${p}`)].sort(),
    );
    // The new topic's partitions had no ledger entry and no group offset: auto.offset.reset.
    expect((both['partitions'] as Positioned).filter((p) => p.partition.startsWith(CREATED)).map((p) => p.from)).toEqual(
      PARTITIONS.map(() => 'earliest'),
    );

    // More records to both, after the rebalance.
    expected.push(...(await produce(FIRST, 40)), ...(await produce(CREATED, 40)));
    const ends = (): boolean => {
      const ledger = committed();
      return [FIRST, CREATED].every((topic) => PARTITIONS.every((p) => ledger.get(`${topic}-${p}`) === produced.get(`${topic}-${p}`)! - 1));
    };
    await until('the ledger to reach the end of every partition of both topics', ends, 40_000);

    // Partitions added to a subscribed topic (CreatePartitions): assigned at the next listing too.
    await cluster.createPartitions(FIRST, 6);
    for (const p of [4, 5]) {
      expected.push(...(await produceKnown(cluster, FIRST, p, 0, 30)));
      produced.set(`${FIRST}-${p}`, 30);
    }
    const grown = await worker.waitForLog(
      (l) =>
        l['message'] === 'New topics or partitions: joining the group again to have them assigned' &&
        (l['partitionsAdded'] as unknown[]).length > 0,
      20_000,
    );
    expect(grown).toMatchObject({ topicsAdded: [], partitionsAdded: [{ topic: FIRST, from: 4, to: 6 }] });
    const six = await worker.waitForLog(
      (l) =>
        l['message'] === 'Partitions assigned and positioned' && (l['partitions'] as Positioned).some((p) => p.partition === `${FIRST}-5`),
      30_000,
    );
    // The new partitions start at auto.offset.reset; the others resume at the ledger.
    expect(
      (six['partitions'] as Positioned).filter((p) => p.partition === `${FIRST}-4` || p.partition === `${FIRST}-5`).map((p) => p.from),
    ).toEqual(['earliest', 'earliest']);
    expect((six['partitions'] as Positioned).filter((p) => p.partition === `${FIRST}-0`).map((p) => p.from)).toEqual(['ledger']);
    await until(
      'the ledger to reach the end of the added partitions',
      () => [4, 5].every((p) => committed().get(`${FIRST}-${p}`) === 29),
      40_000,
    );
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code, worker.text() + JSON.stringify(worker.logs.slice(-5))).toBe(0);

    expect(positioned(worker).some((p) => p.startsWith(UNMATCHED))).toBe(false);
    expect(worker.logs.some((l) => l['level'] === 'WARN' && String(l['message']).startsWith('Listing the topics failed'))).toBe(false);
    const result = check(expected, await readDelivered(s3.client, s3.bucket, `${GROUP}/`));
    expect(result.lost).toEqual([]);
    expect(result.duplicated).toEqual([]);
    expect(result.unexpected).toEqual([]);
    expect(exactlyOnce(result)).toBe(true);
    expect(result.delivered).toBe(expected.length);
  }, 90_000);

  // Last in the file: it stops the file's broker.
  it('logs a failed listing (cluster gone) and tries again at the next interval, without stopping', async () => {
    const own = cluster;
    const config = join(dir, 'gone.properties');
    writeProperties(config, {
      name: 'test-regex-gone',
      'bootstrap.servers': own.bootstrapServers,
      'topics.regex': 'rx-gone-.*',
      'consumer.metadata.max.age.ms': 1000,
      'group.id': 'g-regex-gone',
      'consumer.session.timeout.ms': 3000,
      'consumer.heartbeat.interval.ms': 500,
      's3.bucket.name': s3.bucket,
      'topics.dir': 'g-regex-gone/',
      'errors.deadletterqueue.s3.prefix': 'dead-g-regex-gone/',
      'offset.storage.file.filename': join(dir, 'gone.offsets.json'),
    });
    const worker = startWorker('regex-gone', config, emulatorEnv(s3.endpoint));
    workers.push(worker);
    await worker.waitForLog((l) => l['message'] === 'Partitions assigned and positioned');
    await own.stop();
    const failedListings = () => worker.logs.filter((l) => String(l['message']).startsWith('Listing the topics failed'));
    // On its own timer: the fetch loop meanwhile retries its fetches against the dead cluster.
    await until('three failed listings, an interval apart', () => failedListings().length >= 3, 15_000);
    const [first, , third] = failedListings().map((l) => Date.parse(String(l['timestamp'])));
    expect(third! - first!).toBeLessThan(8_000);
    expect(failedListings()[0]).toMatchObject({ level: 'WARN', retryInMs: 1000 });
    expect(worker.child.exitCode).toBeNull();
    expect(
      worker.logs.some((l) => l['level'] === 'ERROR'),
      JSON.stringify(worker.logs.slice(-5)),
    ).toBe(false);
    // A stop now gives up the Kafka side after task.shutdown.graceful.timeout.ms (5 s by default)
    // rather than retry it for a minute; test/integration/standalone-shutdown.test.ts tests that.
    const signalled = Date.now();
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code, JSON.stringify(worker.logs.slice(-5))).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(10_000);
    expect(
      worker.logs.some(
        (l) => l['level'] === 'WARN' && String(l['message']).includes('timed out after 5000 ms (task.shutdown.graceful.timeout.ms)'),
      ),
    ).toBe(true);
  }, 60_000);
});
