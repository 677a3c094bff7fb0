/**
 * A topic deleted and created again under a running standalone worker (real Kafka broker, S3
 * emulator, the worker a child process of the real CLI, file ledger). The new topic's offsets
 * start again at 0, at and below the ledger's committed offset: taken as the old topic's, they
 * would be dropped as duplicates (and the rest delivered into the old generation). The ledger
 * keeps the topic id, so the worker refuses the partition with an alarmable error line while other
 * topics go on; the operator stops the worker, resets the partition, starts it again, and the new
 * topic is delivered from offset 0 as a new generation, nothing lost, nothing twice.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ledgerKey, readLedgerFile } from '../../lib/ledger/file-ledger.ts';
import { TOPIC_RECREATED_MESSAGE } from '../../lib/standalone/worker.ts';
import { deliveredRecords, opsCli, produce, topicId, useBrokerWorld } from '../fixtures/standalone/broker-world.ts';
import { emulatorEnv, startWorker, testWorkerProperties, type WorkerProcess, writeProperties } from '../fixtures/standalone/harness.ts';
import { sleep, until } from '../../testkit/wait.ts';

const TOPIC = 'sa-recreate';
const OTHER = 'sa-recreate-other';
const GROUP = 'g-recreate';
const PREFIX = `${GROUP}/`;

const world = useBrokerWorld('recreate');

/** `until`, failing with the worker's last log lines. */
async function untilWith(worker: WorkerProcess, what: string, done: () => boolean, timeoutMs: number): Promise<void> {
  try {
    await until(what, done, timeoutMs);
  } catch (error) {
    throw new Error(
      `${(error as Error).message}; ${worker.name}'s last lines:\n${worker.logs
        .slice(-15)
        .map((l) => JSON.stringify(l))
        .join('\n')}\n${worker.text().slice(-2000)}`,
    );
  }
}

const records = (from: number, count: number, life: number) =>
  Array.from({ length: count }, (_, i) => ({ key: `k${from + i}`, n: from + i, life }));

describe('standalone worker: a topic deleted and created again', () => {
  it('refuses the partition (error line with a fixed message and code), goes on with others, and resumes from 0 after a reset', async () => {
    const { dir, admin, workers, s3, broker } = world;
    const ledgerPath = join(dir, 'offsets.json');
    const config = join(dir, 'worker.properties');
    writeProperties(config, {
      ...testWorkerProperties({ bootstrapServers: broker.bootstrap, bucket: s3.bucket, group: GROUP, flushSize: 50 }),
      topics: `${TOPIC},${OTHER}`,
      'offset.storage.file.filename': ledgerPath,
      'consumer.metadata.max.age.ms': 1000,
    });
    const entry = (topic: string) => readLedgerFile(ledgerPath)?.get(ledgerKey(topic, 0));
    await admin.createTopics({ topics: [TOPIC, OTHER], partitions: 1, replicas: 1 });
    const oldId = await topicId(world, TOPIC);
    await produce(world, TOPIC, 0, records(0, 20, 1));
    await produce(world, OTHER, 0, records(0, 5, 1));

    // 1. The worker delivers the first topic's 20 records and records its id on the ledger.
    const first = startWorker('recreate-1', config, emulatorEnv(s3.endpoint));
    workers.push(first);
    await untilWith(
      first,
      'the first topic to be delivered',
      () => entry(TOPIC)?.committedOffset === 19 && entry(OTHER)?.committedOffset === 4,
      60_000,
    );
    expect(entry(TOPIC)).toMatchObject({ generation: 0, committedOffset: 19, topicId: oldId });

    // 2. The topic is deleted and created again, and gets 30 new records: offsets 0-29 again.
    await admin.deleteTopics({ topics: [TOPIC] });
    await until('the topic to be gone', async () => !(await admin.listTopics()).includes(TOPIC), 30_000);
    await sleep(300);
    await admin.createTopics({ topics: [TOPIC], partitions: 1, replicas: 1 });
    const newId = await topicId(world, TOPIC);
    expect(newId).not.toBe(oldId);
    await produce(world, TOPIC, 0, records(0, 30, 2));

    // 3. Refused, with the line an alarm matches; the ledger and S3 keep the old topic's state.
    const refusal = await first.waitForLog((l) => l['message'] === TOPIC_RECREATED_MESSAGE, 60_000);
    expect(refusal).toMatchObject({
      level: 'ERROR',
      code: 'TOPIC_RECREATED',
      partition: `${TOPIC}-0`,
      topic: TOPIC,
      ledgerTopicId: oldId,
      topicId: newId,
      committedOffset: 19,
      error: { name: 'TopicRecreatedError', code: 'TOPIC_RECREATED' },
    });
    expect((refusal['error'] as { message: string }).message).toContain(
      `msk-s3-sink reset --config <worker properties> --topic ${TOPIC} --partition 0 --to-offset 0`,
    );
    // Other topics go on.
    await produce(world, OTHER, 0, records(5, 5, 1));
    await untilWith(first, 'the other topic to go on', () => entry(OTHER)?.committedOffset === 9, 30_000);
    expect(entry(TOPIC)).toMatchObject({ generation: 0, committedOffset: 19, topicId: oldId });
    expect(first.logs.filter((l) => String(l['message']).startsWith('Offsets skipped'))).toEqual([]);

    // 4. Stop, reset the partition to 0 (a new generation; the topic id cleared), start again.
    first.child.kill('SIGTERM');
    expect((await first.exited).code, first.text()).toBe(0);
    const reset = await opsCli(world, ledgerPath, PREFIX, [
      'reset',
      '--topic',
      TOPIC,
      '--partition',
      '0',
      '--to-offset',
      '0',
      '--reason',
      'topic re-created',
      '--by',
      'ops',
    ]);
    expect(reset.code, reset.stderr).toBe(0);
    expect(entry(TOPIC)).toMatchObject({ generation: 1, committedOffset: -1 });
    expect(entry(TOPIC)).not.toHaveProperty('topicId');
    const second = startWorker('recreate-2', config, emulatorEnv(s3.endpoint));
    workers.push(second);
    await untilWith(second, 'the new topic to be delivered', () => entry(TOPIC)?.committedOffset === 29, 60_000);
    expect(entry(TOPIC)).toMatchObject({ generation: 1, committedOffset: 29, topicId: newId });
    expect(second.logs.filter((l) => l['message'] === TOPIC_RECREATED_MESSAGE)).toEqual([]);
    second.child.kill('SIGTERM');
    expect((await second.exited).code, second.text()).toBe(0);

    // 5. S3: the old topic's 20 records in generation 0, the new topic's 30 in generation 1, each once.
    const delivered = (await deliveredRecords(world, `${PREFIX}${TOPIC}/`)).map(({ generation, offset, n, life }) => ({
      generation,
      offset,
      n,
      life,
    }));
    expect(delivered).toEqual([
      ...Array.from({ length: 20 }, (_, i) => ({ generation: 0, offset: i, n: i, life: 1 })),
      ...Array.from({ length: 30 }, (_, i) => ({ generation: 1, offset: i, n: i, life: 2 })),
    ]);
    expect((await deliveredRecords(world, `${PREFIX}${OTHER}/`)).map((r) => r.offset)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  }, 240_000);

  it('notices a re-creation between two topic listings from the fetch metadata, and refuses it the same way', async () => {
    const { dir, admin, workers, s3, broker } = world;
    const topic = 'sa-recreate-quick';
    const group = 'g-recreate-quick';
    const ledgerPath = join(dir, 'quick.offsets.json');
    const config = join(dir, 'quick.properties');
    writeProperties(config, {
      ...testWorkerProperties({ bootstrapServers: broker.bootstrap, bucket: s3.bucket, group, flushSize: 50 }),
      topics: topic,
      'offset.storage.file.filename': ledgerPath,
      // No listing during the test: only the fetch loop's metadata can see the new topic id.
      'consumer.metadata.max.age.ms': 600_000,
    });
    const entry = () => readLedgerFile(ledgerPath)?.get(ledgerKey(topic, 0));
    await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
    const oldId = await topicId(world, topic);
    await produce(world, topic, 0, records(0, 10, 1));
    const worker = startWorker('recreate-quick', config, emulatorEnv(s3.endpoint));
    workers.push(worker);
    await untilWith(worker, 'the first topic to be delivered', () => entry()?.committedOffset === 9, 60_000);

    await admin.deleteTopics({ topics: [topic] });
    await until('the topic to be gone', async () => !(await admin.listTopics()).includes(topic), 30_000);
    await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
    const newId = await topicId(world, topic);
    await produce(world, topic, 0, records(0, 15, 2));

    const refusal = await worker.waitForLog((l) => l['message'] === TOPIC_RECREATED_MESSAGE, 60_000);
    expect(refusal).toMatchObject({ code: 'TOPIC_RECREATED', topic, ledgerTopicId: oldId, topicId: newId, committedOffset: 9 });
    expect(worker.logs.some((l) => String(l['message']).startsWith('Subscribed topics are no longer on the cluster'))).toBe(false);
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code, worker.text()).toBe(0);
    expect(entry()).toMatchObject({ generation: 0, committedOffset: 9, topicId: oldId });
    const delivered = await deliveredRecords(world, `${group}/${topic}/`);
    expect(delivered.map(({ offset, life }) => ({ offset, life }))).toEqual(Array.from({ length: 10 }, (_, i) => ({ offset: i, life: 1 })));
  }, 120_000);
});
