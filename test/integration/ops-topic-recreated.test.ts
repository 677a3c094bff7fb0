/**
 * A topic deleted and created again, seen from the operations side (real Kafka broker, S3
 * emulator, the worker a child process of the real CLI, file ledger). The worker refuses such a
 * partition and logs it, but the ledger and S3 still agree with each other, and the new topic's
 * offsets start at 0, below the committed offset: without the cluster's topic id, `status` shows
 * lag 0 and `verify` finds nothing. With `--bootstrap-servers`, `status` marks the partition and
 * `verify` reports it as an error (exit 1); after the reset the worker's message names, both are
 * quiet again. A topic left alone is never marked.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ledgerKey, readLedgerFile } from '../../lib/ledger/file-ledger.ts';
import { opsCli, produce, topicId, useBrokerWorld } from '../fixtures/standalone/broker-world.ts';
import { emulatorEnv, startWorker, testWorkerProperties, writeProperties } from '../fixtures/standalone/harness.ts';
import { sleep, until } from '../../testkit/wait.ts';

const TOPIC = 'ops-recreate';
const OTHER = 'ops-recreate-other';
const GROUP = 'g-ops-recreate';
const PREFIX = `${GROUP}/`;

const world = useBrokerWorld('ops-recreate');

const records = (count: number, life: number) => Array.from({ length: count }, (_, i) => ({ key: `k${i}`, n: i, life }));

describe('ops: a partition whose topic was deleted and created again', () => {
  it('is marked by status and reported by verify with --bootstrap-servers, and no longer after the reset', async () => {
    const { dir, admin, workers, s3, broker } = world;
    const ledgerPath = join(dir, 'offsets.json');
    const config = join(dir, 'worker.properties');
    writeProperties(config, {
      ...testWorkerProperties({ bootstrapServers: broker.bootstrap, bucket: s3.bucket, group: GROUP, flushSize: 50 }),
      topics: `${TOPIC},${OTHER}`,
      'offset.storage.file.filename': ledgerPath,
    });
    const entry = (topic: string) => readLedgerFile(ledgerPath)?.get(ledgerKey(topic, 0));
    const cli = (...argv: string[]) => opsCli(world, ledgerPath, PREFIX, argv);
    const kafka = ['--bootstrap-servers', broker.bootstrap];

    // The worker delivers both topics and records their ids on the ledger, then stops.
    await admin.createTopics({ topics: [TOPIC, OTHER], partitions: 1, replicas: 1 });
    const oldId = await topicId(world, TOPIC);
    await produce(world, TOPIC, 0, records(20, 1));
    await produce(world, OTHER, 0, records(5, 1));
    const worker = startWorker('ops-recreate', config, emulatorEnv(s3.endpoint));
    workers.push(worker);
    await until('both topics to be delivered', () => entry(TOPIC)?.committedOffset === 19 && entry(OTHER)?.committedOffset === 4, 60_000);
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code, worker.text()).toBe(0);
    expect(entry(TOPIC)).toMatchObject({ generation: 0, committedOffset: 19, topicId: oldId });

    // The topic is deleted and created again with 5 records: offsets 0-4, below the committed 19.
    await admin.deleteTopics({ topics: [TOPIC] });
    await until('the topic to be gone', async () => !(await admin.listTopics()).includes(TOPIC), 30_000);
    await sleep(300);
    await admin.createTopics({ topics: [TOPIC], partitions: 1, replicas: 1 });
    const newId = await topicId(world, TOPIC);
    expect(newId).not.toBe(oldId);
    await produce(world, TOPIC, 0, records(5, 2));

    // Without the cluster, nothing can tell: the ledger and S3 agree.
    const blind = await cli('verify');
    expect(blind.code, blind.stdout + blind.stderr).toBe(0);
    expect(blind.stdout).toContain('OK: S3 and the ledger agree');

    // status: the partition is marked (its lag is the whole new topic), the other one is not.
    const status = await cli('status', '--json', ...kafka);
    expect(status.code, status.stderr).toBe(0);
    const rows = status.json() as Array<Record<string, unknown>>;
    expect(rows.find((r) => r['topic'] === TOPIC)).toMatchObject({
      committedOffset: 19,
      topicId: oldId,
      clusterTopicId: newId,
      topicRecreated: true,
      highWatermark: 5,
      lag: 5,
    });
    expect(rows.find((r) => r['topic'] === OTHER)).toMatchObject({ topicRecreated: false, lag: 0 });
    const text = await cli('status', ...kafka);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^${TOPIC} +0 +0 +19 +5 +5 \\(topic re-created\\)`, 'm'));
    expect(text.stdout).toContain(
      `${TOPIC}-0: topic ${TOPIC} was deleted and created again (the ledger's topic id ${oldId}, the cluster's ${newId})`,
    );
    expect(text.stdout).toContain(`msk-s3-sink reset --topic ${TOPIC} --partition 0 --to-offset 0`);
    expect(text.stdout).not.toContain(`${OTHER}-0: topic`);

    // verify: one error finding for it, exit 1, in text and JSON.
    const verify = await cli('verify', ...kafka);
    expect(verify.code, verify.stdout + verify.stderr).toBe(1);
    expect(verify.stdout).toContain(`ERROR topic-recreated ${TOPIC}-0 (generation 0): topic ${TOPIC} was deleted and created again`);
    expect(verify.stdout).toContain('INCONSISTENT: see the errors above');
    const json = await cli('verify', '--json', ...kafka);
    expect(json.code).toBe(1);
    const report = json.json() as { errors: number; findings: Array<Record<string, unknown>> };
    expect(report.errors).toBe(1);
    expect(report.findings.filter((f) => f['severity'] === 'error')).toEqual([
      expect.objectContaining({ severity: 'error', kind: 'topic-recreated', topic: TOPIC, partition: 0, generation: 0 }),
    ]);

    // The reset clears the ledger's topic id: nothing is marked any more.
    const reset = await cli(
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
    );
    expect(reset.code, reset.stderr).toBe(0);
    const after = await cli('status', '--json', ...kafka);
    expect((after.json() as Array<Record<string, unknown>>).map((r) => r['topicRecreated'])).toEqual([false, false]);
    const verified = await cli('verify', ...kafka);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).not.toContain('topic-recreated');
  }, 180_000);
});
