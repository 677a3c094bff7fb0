/**
 * Partitions of one standalone worker flush independently (real Kafka broker, S3 emulator, file
 * ledger, the worker in this process with its object store wrapped):
 *  - while one partition's upload is held, another partition delivers flush after flush; each
 *    partition commits its batches in order, and nothing is lost or written twice;
 *  - a failed upload of one partition while another flushes: the failed partition is positioned
 *    from the ledger again and delivered, the other is not disturbed, every record exactly once;
 *  - a partition whose ledger entry carries another topic id (the topic was deleted and created
 *    again) is refused, and the refusal is counted in the worker's stats and status.
 */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../lib/aws/s3-object-store.ts';
import { readStandaloneConfigFile } from '../../lib/config/worker-config.ts';
import {
  type LedgerEntry,
  type LedgerPosition,
  type NewObject,
  type ObjectStore,
  type OffsetLedger,
  systemClock,
} from '../../lib/core/ports.ts';
import { FileOffsetLedger } from '../../lib/ledger/file-ledger.ts';
import { deliveryOptions } from '../../lib/sink/sink.ts';
import { createJsonLogger } from '../../lib/standalone/log.ts';
import { StandaloneWorker } from '../../lib/standalone/worker.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../testkit/emulators/clients.ts';
import { deliveredRecords, produce, useBrokerWorld } from '../fixtures/standalone/broker-world.ts';
import { testWorkerProperties, writeProperties } from '../fixtures/standalone/harness.ts';
import { until } from '../../testkit/wait.ts';

const world = useBrokerWorld('concurrency');

const PER_PARTITION = 600;
const FLUSH_SIZE = 100;

/** A gate an upload waits at until the test opens it. */
interface Gate {
  readonly opened: Promise<void>;
  open(): void;
}

function gate(): Gate {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** The ledger, with every successful advance recorded per `topic-partition` (committed offsets, in the order they landed). */
function recordingLedger(inner: OffsetLedger, commits: Map<number, number[]>): OffsetLedger {
  return {
    read: (topic, partition) => inner.read(topic, partition),
    declareNaming: (expected, declaration) => inner.declareNaming(expected, declaration),
    advance: async (expected: LedgerPosition | undefined, next: LedgerEntry) => {
      await inner.advance(expected, next);
      commits.set(next.partition, [...(commits.get(next.partition) ?? []), next.committedOffset]);
    },
  };
}

/** A worker in this process on `topic`, with the object store and ledger the test wraps. */
function workerFor(
  group: string,
  topic: string,
  wrap: (real: ObjectStore) => ObjectStore,
  ledger: OffsetLedger,
): { worker: StandaloneWorker; running: Promise<void> } {
  const propertiesPath = join(world.dir, `${group}.properties`);
  writeProperties(propertiesPath, {
    ...testWorkerProperties({ bootstrapServers: world.broker.bootstrap, bucket: world.s3.bucket, group, flushSize: FLUSH_SIZE }),
    topics: topic,
    // Only full batches flush while the test looks: the interval cannot make a partition's batch.
    'offset.flush.interval.ms': 600_000,
    'offset.storage.file.filename': join(world.dir, `${group}.offsets.json`),
  });
  const config = readStandaloneConfigFile(propertiesPath, {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  });
  const worker = new StandaloneWorker({
    config,
    delivery: deliveryOptions(config.sink),
    ledger,
    store: wrap(new S3ObjectStore({ client: world.s3.client, bucket: world.s3.bucket })),
    clock: systemClock,
    logger: createJsonLogger({ out: new Writable({ write: (_chunk, _encoding, done) => done() }), level: 'INFO' }),
  });
  return { worker, running: worker.run() };
}

/** Produces PER_PARTITION records to each of two partitions of a new topic. */
async function twoPartitions(topic: string): Promise<void> {
  await world.kafka.createTopics([{ name: topic, partitions: 2 }]);
  for (const partition of [0, 1]) {
    await produce(
      world,
      topic,
      partition,
      Array.from({ length: PER_PARTITION }, (_, n) => ({ key: `p${partition}-${n}`, n })),
    );
  }
}

/** Every offset of both partitions delivered exactly once, in the one generation. */
async function expectEveryRecordOnce(prefix: string): Promise<void> {
  const delivered = await deliveredRecords(world, prefix);
  for (const partition of [0, 1]) {
    const offsets = delivered.filter((r) => r.partition === partition).map((r) => r.offset);
    expect(offsets).toEqual(Array.from({ length: PER_PARTITION }, (_, i) => i));
    expect(delivered.filter((r) => r.partition === partition).map((r) => r.n)).toEqual(offsets);
  }
}

/** Until `partition`'s commits reach its last record. */
function untilAllCommitted(commits: ReadonlyMap<number, number[]>, partition: number): Promise<void> {
  return until(
    `partition ${partition} to commit every batch`,
    () => (commits.get(partition) ?? []).at(-1) === PER_PARTITION - 1,
    60_000,
    10,
  );
}

const full = Array.from({ length: PER_PARTITION / FLUSH_SIZE }, (_, i) => (i + 1) * FLUSH_SIZE - 1);

describe('standalone worker: partitions flush independently', () => {
  it('while partition 0 upload is held, partition 1 delivers every batch; both commit in order, nothing lost or twice', async () => {
    const topic = 'cc-held';
    await twoPartitions(topic);
    const file = FileOffsetLedger.open(join(world.dir, 'cc-held.offsets.json'));
    const commits = new Map<number, number[]>();
    const held = gate();
    let heldUploads = 0;
    const { worker, running } = workerFor(
      'cc-held',
      topic,
      (real) => ({
        putIfAbsent: async (object: NewObject) => {
          if (object.key.includes('partition=0/')) {
            heldUploads++;
            await held.opened;
          }
          return real.putIfAbsent(object);
        },
        head: (key) => real.head(key),
      }),
      recordingLedger(file, commits),
    );
    try {
      // Partition 1 goes through all of its batches while partition 0's first is held: one flush
      // at a time for all partitions (the old loop) would wait on partition 0's upload.
      await untilAllCommitted(commits, 1);
      expect(commits.get(0)).toBeUndefined();
      // In order within a partition: partition 0's next batch waits for its first.
      expect(heldUploads).toBe(1);
      held.open();
      await untilAllCommitted(commits, 0);
      expect(commits.get(0)).toEqual(full);
      expect(commits.get(1)).toEqual(full);
    } finally {
      held.open();
      worker.stop();
      await running;
      await file.close();
    }
    await expectEveryRecordOnce('cc-held/');
  }, 120_000);

  it('a failed upload of partition 0 while partition 1 flushes: partition 0 is delivered again from the ledger, every record once', async () => {
    const topic = 'cc-failed';
    await twoPartitions(topic);
    const file = FileOffsetLedger.open(join(world.dir, 'cc-failed.offsets.json'));
    const commits = new Map<number, number[]>();
    const held = gate();
    let failedOnce = false;
    const { worker, running } = workerFor(
      'cc-failed',
      topic,
      (real) => ({
        putIfAbsent: async (object: NewObject) => {
          // Partition 0's second batch fails once, after partition 1 has gone on past it.
          if (object.key.includes('partition=0/') && !failedOnce && (commits.get(0) ?? []).length === 1) {
            failedOnce = true;
            await held.opened;
            throw new Error('injected: the upload failed');
          }
          return real.putIfAbsent(object);
        },
        head: (key) => real.head(key),
      }),
      recordingLedger(file, commits),
    );
    try {
      await until('partition 0 second upload to be in flight', () => failedOnce, 60_000, 10);
      await untilAllCommitted(commits, 1);
      held.open();
      await untilAllCommitted(commits, 0);
      expect(worker.stats.failedPartitions).toBe(1);
      expect(commits.get(0)).toEqual(full);
      expect(commits.get(1)).toEqual(full);
    } finally {
      held.open();
      worker.stop();
      await running;
      await file.close();
    }
    await expectEveryRecordOnce('cc-failed/');
  }, 120_000);

  it('counts a partition refused because its topic was created again, in the stats and the status', async () => {
    const topic = 'cc-refused';
    await twoPartitions(topic);
    const file = FileOffsetLedger.open(join(world.dir, 'cc-refused.offsets.json'));
    // The ledger remembers partition 0 of an earlier topic of the same name (another topic id).
    await file.advance(undefined, {
      topic,
      partition: 0,
      generation: 0,
      committedOffset: 9,
      lastObjectKey: `cc-refused/${topic}/partition=0/earlier.jsonl.gz`,
      lastRecordCount: 10,
      updatedAt: new Date().toISOString(),
      topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
    });
    const commits = new Map<number, number[]>();
    const { worker, running } = workerFor('cc-refused', topic, (real) => real, recordingLedger(file, commits));
    try {
      await untilAllCommitted(commits, 1);
      await until('the refusal to be counted', () => worker.stats.refusedPartitions === 1, 30_000, 10);
      expect(worker.status()).toMatchObject({ partitions: 2, refused: 1, stats: { refusedPartitions: 1 } });
      expect(commits.get(0)).toBeUndefined();
    } finally {
      worker.stop();
      await running;
      await file.close();
    }
  }, 120_000);
});
