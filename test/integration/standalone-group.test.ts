/**
 * Standalone workers on a real Apache Kafka broker (testkit/emulators/kafka-broker.ts), with the
 * S3 emulator and DynamoDB Local:
 *  - three workers (real CLI processes) in one group, cooperative-sticky assignment; records
 *    produced while they run; one SIGKILLed mid-stream; the two others take its partitions once
 *    its session expires, without giving up their own; every record exactly once (read back
 *    with the independent checker);
 *  - one worker in this process whose S3 writes are held: it goes on fetching while its flush
 *    is in flight.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { Admin, Producer, stringSerializers } from '@platformatic/kafka';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../lib/aws/s3-object-store.ts';
import { systemClock, type NewObject, type ObjectStore } from '../../lib/core/ports.ts';
import { deliveryOptions } from '../../lib/sink/sink.ts';
import { readStandaloneConfigFile } from '../../lib/config/worker-config.ts';
import { FileOffsetLedger } from '../../lib/ledger/file-ledger.ts';
import { createJsonLogger } from '../../lib/standalone/log.ts';
import { StandaloneWorker } from '../../lib/standalone/worker.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../testkit/emulators/clients.ts';
import { startKafkaBroker, type KafkaBroker } from '../../testkit/emulators/kafka-broker.ts';
import { emulatorEnv, startWorker, testWorkerProperties, writeProperties, type WorkerProcess } from '../fixtures/standalone/harness.ts';
import { createTestLedgerTable, startS3ForTest, type S3ForTest } from '../support/emulators.ts';
import { type LogRecord, recordId } from '../../testkit/kafka/records.ts';
import { check, readDelivered } from '../../testkit/read-back.ts';
import { sleep, until } from '../../testkit/wait.ts';

const GROUP_TOPIC = 'grp-orders';
const GROUP_PARTITIONS = 6;
const PIPE_TOPIC = 'grp-pipeline';

let broker: KafkaBroker;
let s3: S3ForTest;
let producer: Producer<string, string, string, string>;
let dir: string;
const workers: WorkerProcess[] = [];
/** Records produced so far per `topic-partition` (a fresh partition's offsets start at 0). */
const produced = new Map<string, number>();

beforeAll(async () => {
  [broker, s3] = await Promise.all([
    // A short session timeout (3 s) needs a lower floor than the broker's default 6 s.
    startKafkaBroker({ properties: { 'group.min.session.timeout.ms': '1000' } }),
    startS3ForTest(),
  ]);
  dir = mkdtempSync(join(tmpdir(), 'standalone-group-'));
  const admin = new Admin({ clientId: 'group-test', bootstrapBrokers: [broker.bootstrap], retries: 3, retryDelay: 200 });
  try {
    await admin.createTopics({ topics: [GROUP_TOPIC], partitions: GROUP_PARTITIONS, replicas: 1 });
    await admin.createTopics({ topics: [PIPE_TOPIC], partitions: 1, replicas: 1 });
  } finally {
    await admin.close();
  }
  producer = new Producer({
    clientId: 'group-test',
    bootstrapBrokers: [broker.bootstrap],
    serializers: stringSerializers,
    autocreateTopics: false,
    retries: 3,
    retryDelay: 200,
  });
}, 180_000);

afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
  await producer?.close().catch(() => undefined);
  await Promise.all([broker?.stop(), s3?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Produces `count` JSON records to each partition, as the read-back checker expects them. */
async function produceKnown(topic: string, partitions: readonly number[], count: number, pad = 64, perSend = 250): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  const messages: Array<{ topic: string; partition: number; key: string; value: string; timestamp: bigint }> = [];
  const now = Date.now();
  for (const partition of partitions) {
    const from = produced.get(`${topic}-${partition}`) ?? 0;
    for (let i = 0; i < count; i++) {
      const offset = from + i;
      const key = `key-${offset % 97}`;
      const value = JSON.stringify({ id: recordId(topic, partition, offset), n: offset, pad: 'x'.repeat(pad) });
      messages.push({ topic, partition, key, value, timestamp: BigInt(now + i) });
      records.push({
        topic,
        partition,
        offset,
        timestamp: now + i,
        key: Buffer.from(key),
        value: Buffer.from(value),
        kind: 'json',
        headers: [],
      });
    }
    produced.set(`${topic}-${partition}`, from + count);
  }
  // One record batch per send and partition, under the broker's 1 MB message.max.bytes.
  for (let i = 0; i < messages.length; i += perSend) await producer.send({ messages: messages.slice(i, i + perSend), acks: -1 });
  return records;
}

type Positioned = Array<{ partition: string; position: number; from: string }>;

/** The partitions (numbers) of a worker's last assignment line. */
function assignedTo(w: WorkerProcess): number[] {
  const lines = w.logs.filter((l) => l['message'] === 'Partitions assigned and positioned');
  const last = lines[lines.length - 1]?.['partitions'] as Positioned | undefined;
  return (last ?? []).map((p) => Number(p.partition.split('-').pop())).sort((a, b) => a - b);
}

describe('standalone workers in one group on a real broker', () => {
  it('three workers, one SIGKILLed mid-stream: the others take its partitions, never re-positioning those they keep; every record exactly once', async () => {
    const table = await createTestLedgerTable('group');
    const config = join(dir, 'group.properties');
    writeProperties(config, {
      ...testWorkerProperties({ bootstrapServers: broker.bootstrap, bucket: s3.bucket, group: 'g-three' }),
      topics: GROUP_TOPIC,
      'ledger.table': table.tableName,
      'consumer.partition.assignment.strategy': 'cooperative-sticky',
      // Short enough for a quick takeover, long enough that a survivor's heartbeat on a loaded
      // machine (2 cores, the whole suite) does not miss it and cost it its membership.
      'consumer.session.timeout.ms': 6000,
      'consumer.heartbeat.interval.ms': 1000,
    });
    const env = emulatorEnv(s3.endpoint, table.endpoint);
    const partitions = Array.from({ length: GROUP_PARTITIONS }, (_, p) => p);
    const committed = async (partition: number): Promise<number> => {
      const { Item } = await table.client.send(
        new GetItemCommand({
          TableName: table.tableName,
          Key: { topic: { S: GROUP_TOPIC }, partition: { N: String(partition) } },
          ConsistentRead: true,
        }),
      );
      return Item ? Number(Item['committedOffset']?.N) : -1;
    };
    const expected: LogRecord[] = await produceKnown(GROUP_TOPIC, partitions, 100);

    // Records go on being produced while the workers run, the kill and the takeover included.
    let producing = true;
    const producerLoop = (async () => {
      while (producing) {
        expected.push(...(await produceKnown(GROUP_TOPIC, partitions, 20)));
        await sleep(100);
      }
    })();

    const [a, b, c] = ['three-a', 'three-b', 'three-c'].map((name) => {
      const w = startWorker(name, config, env);
      workers.push(w);
      return w;
    }) as [WorkerProcess, WorkerProcess, WorkerProcess];
    const split = (): boolean => {
      const all = [a, b, c].map(assignedTo);
      return all.every((p) => p.length === 2) && new Set(all.flat()).size === GROUP_PARTITIONS;
    };
    try {
      await until('the three workers to split the six partitions', split, 60_000);
      const before = new Map([a, b, c].map((w) => [w.name, assignedTo(w)]));
      // Each delivers its own partitions before the kill.
      await until(
        'every partition to be committed past its first records',
        async () => (await Promise.all(partitions.map(committed))).every((offset) => offset >= 50),
        30_000,
      );

      const logsAtKill = new Map([a, b].map((w) => [w.name, w.logs.length]));
      c.child.kill('SIGKILL');
      await c.exited;
      const killedAt = Date.now();
      const survivorsOwn = [...before.get(a.name)!, ...before.get(b.name)!];
      const atKill = new Map(await Promise.all(survivorsOwn.map(async (p) => [p, await committed(p)] as const)));
      await until(
        'the survivors to take over every partition',
        () => new Set([...assignedTo(a), ...assignedTo(b)]).size === GROUP_PARTITIONS,
        60_000,
      );
      const tookOverAfterMs = Date.now() - killedAt;
      const atTakeover = new Map(await Promise.all(survivorsOwn.map(async (p) => [p, await committed(p)] as const)));

      producing = false;
      await producerLoop;
      const last = new Map<number, number>();
      for (const r of expected) last.set(r.partition, Math.max(last.get(r.partition) ?? -1, r.offset));
      await until(
        'the ledger to reach the end of every partition',
        async () => (await Promise.all(partitions.map(committed))).every((offset, p) => offset === last.get(p)),
        60_000,
      );
      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
      expect((await a.exited).code, JSON.stringify(a.logs.slice(-5))).toBe(0);
      expect((await b.exited).code, JSON.stringify(b.logs.slice(-5))).toBe(0);

      // Incremental: through every rebalance after the kill, a partition that stayed assigned to a
      // survivor from one assignment to the next was never positioned again (its buffer, its
      // position and a flush in flight went on: 'kept'), and a partition added was positioned
      // from the ledger. (Which partitions stay is the assignor's choice: @platformatic/kafka
      // 2.12's cooperative-sticky keeps the survivors' own in most runs, and in some moves them
      // between the survivors over a few rounds; see the report of issue 16.)
      let transitions = 0;
      for (const w of [a, b]) {
        let previous = new Set(before.get(w.name)!);
        for (const line of w.logs.slice(logsAtKill.get(w.name))) {
          // What the worker stopped holding between two assignments is not kept: partitions it
          // logged as revoked (a pass whose positioning failed logs no assignment line), and all of
          // them when it lost its membership and joined again.
          if (String(line['message']).startsWith('Partitions revoked')) {
            for (const q of line['partitions'] as Array<{ partition: string }>) previous.delete(Number(q.partition.split('-').pop()));
          }
          if (String(line['message']).startsWith('The consumer lost its group membership')) previous = new Set();
          if (line['message'] !== 'Partitions assigned and positioned') continue;
          for (const q of line['partitions'] as Positioned) {
            const p = Number(q.partition.split('-').pop());
            expect(
              q.from,
              `${w.name}: ${q.partition} (${previous.has(p) ? 'held before' : 'added'}) in ${JSON.stringify(line['partitions'])}`,
            ).toBe(previous.has(p) ? 'kept' : 'ledger');
            if (previous.has(p)) transitions++;
          }
          previous = new Set((line['partitions'] as Positioned).map((q) => Number(q.partition.split('-').pop())));
        }
      }
      expect(transitions, 'partitions kept through a rebalance').toBeGreaterThan(0);
      // Delivery went on between the kill and the takeover (the session timeout and the rebalance).
      const progress = survivorsOwn.map((p) => `${p}: ${atKill.get(p)} -> ${atTakeover.get(p)}`).join(', ');
      expect(
        survivorsOwn.some((p) => atTakeover.get(p)! > atKill.get(p)!),
        `committed ${progress} in ${tookOverAfterMs} ms`,
      ).toBe(true);

      const result = check(expected, await readDelivered(s3.client, s3.bucket, 'g-three/'));
      expect(result.lost).toEqual([]);
      expect(result.duplicated).toEqual([]);
      expect(result.unexpected).toEqual([]);
      expect(result.outOfOrder).toEqual([]);
      expect(result.corrupted).toEqual([]);
    } finally {
      producing = false;
      await producerLoop.catch(() => undefined);
    }
  }, 240_000);

  it('fetches while a flush is in flight: the next records are buffered before the held S3 write returns', async () => {
    // 1,000 records of ~1 KB in batches of 20: a fetch of 64 KiB brings about 60 (a fetch returns
    // whole record batches), so flush.size 200 takes a few fetches and leaves most records behind.
    const expected = await produceKnown(PIPE_TOPIC, [0], 1_000, 1_000, 20);
    const ledgerPath = join(dir, 'pipeline.offsets.json');
    const propertiesPath = join(dir, 'pipeline.properties');
    writeFileSync(
      propertiesPath,
      Object.entries({
        ...testWorkerProperties({ bootstrapServers: broker.bootstrap, bucket: s3.bucket, group: 'g-pipeline', flushSize: 200 }),
        topics: PIPE_TOPIC,
        'offset.storage.file.filename': ledgerPath,
        'offset.flush.interval.ms': 60_000,
        'consumer.max.partition.fetch.bytes': 65_536,
      })
        .map(([k, v]) => `${k}=${v}`)
        .join('\n'),
    );
    const config = readStandaloneConfigFile(propertiesPath, {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    });
    const ledger = FileOffsetLedger.open(ledgerPath);
    const real = new S3ObjectStore({ client: s3.client, bucket: s3.bucket });
    // Every S3 write waits for the gate: the first flush stays in flight until the test opens it.
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let writesHeld = 0;
    const store: ObjectStore = {
      putIfAbsent: async (object: NewObject) => {
        writesHeld++;
        await gate;
        return real.putIfAbsent(object);
      },
      head: (key) => real.head(key),
    };
    const nowhere = new Writable({ write: (_chunk, _encoding, done) => done() });
    const worker = new StandaloneWorker({
      config,
      delivery: deliveryOptions(config.sink),
      ledger,
      store,
      clock: systemClock,
      logger: createJsonLogger({ out: nowhere, level: 'INFO' }),
    });
    const running = worker.run();
    try {
      await until('the first flush to reach S3', () => writesHeld > 0, 30_000, 10);
      // The first flush started when the buffer reached flush.size (a fetch or so past it). While
      // its S3 write is held, the worker fetches its next flush.size behind it, and no further.
      await until('a second flush.size fetched behind the flush in flight', () => worker.stats.recordsFetched >= 400, 15_000, 10);
      await sleep(1_000);
      expect(worker.stats.recordsFetched).toBeLessThan(400 + 100);
      expect(worker.stats.recordsDelivered).toBe(0);
      open();
      await until('every record delivered', () => worker.stats.recordsDelivered === 1_000, 30_000, 20);
      const entry = await ledger.read(PIPE_TOPIC, 0);
      expect(entry?.committedOffset).toBe(999);
    } finally {
      open();
      worker.stop();
      await running;
      await ledger.close();
    }
    const result = check(expected, await readDelivered(s3.client, s3.bucket, 'g-pipeline/'));
    expect(result.lost).toEqual([]);
    expect(result.duplicated).toEqual([]);
    expect(result.corrupted).toEqual([]);
  }, 120_000);
});
