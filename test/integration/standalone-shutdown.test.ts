/**
 * A stop with the Kafka cluster gone is bounded by `task.shutdown.graceful.timeout.ms`, and still
 * delivers what was fetched. Against a real Kafka broker (test/support/test-kafka.ts), the S3 emulator
 * and the worker as a child process of the real CLI: the worker fetches records it holds (a long
 * flush interval and a large flush.size keep them buffered), the cluster is stopped, SIGTERM. The
 * worker delivers the buffer to S3 and the ledger, gives up the final commit, leaving the group
 * and closing the consumer after the bound (each would otherwise retry for ~17 s), warns, and
 * exits 0 as a normal stop does.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
import { sleep } from '../../testkit/wait.ts';

const TOPIC = 'sd-orders';
const GROUP = 'g-shutdown';
const PARTITIONS = [0, 1, 2, 3];
const PER_PARTITION = 50;
const BOUND_MS = 2_000;
/** Process exit, the abandoned fetch and the delivery to the emulators, on a shared 2-core machine. */
const MARGIN_MS = 3_000;

let cluster: TestKafka;
let clusterStopped = false;
let s3: S3ForTest;
let dir: string;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  [cluster, s3] = await Promise.all([startTestKafka({ topics: [{ name: TOPIC, partitions: 4 }] }), startS3ForTest()]);
  dir = mkdtempSync(join(tmpdir(), 'standalone-shutdown-'));
}, 180_000);

afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
  await Promise.all([clusterStopped ? undefined : cluster?.stop(), s3?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('standalone worker stop with the cluster unreachable', () => {
  it('delivers what it fetched, abandons the Kafka side after task.shutdown.graceful.timeout.ms with a warning, and exits 0', async () => {
    const ledgerPath = join(dir, 'shutdown.offsets.json');
    const config = join(dir, 'shutdown.properties');
    writeProperties(config, {
      ...testWorkerProperties({ bootstrapServers: cluster.bootstrapServers, bucket: s3.bucket, group: GROUP, flushSize: 100_000 }),
      topics: TOPIC,
      // Nothing is flushed before the stop: the shutdown delivers the whole buffer.
      'offset.flush.interval.ms': 600_000,
      'task.shutdown.graceful.timeout.ms': BOUND_MS,
      'offset.storage.file.filename': ledgerPath,
    });
    const expected: LogRecord[] = [];
    for (const p of PARTITIONS) expected.push(...(await produceKnown(cluster, TOPIC, p, 0, PER_PARTITION)));

    const worker = startWorker('shutdown', config, emulatorEnv(s3.endpoint));
    workers.push(worker);
    await worker.waitForLog((l) => l['message'] === 'Partitions assigned and positioned');
    // The first fetch takes every record (milliseconds against the local broker); nothing shows it but the status line.
    await sleep(1_500);
    clusterStopped = true;
    await cluster.stop();
    const signalled = Date.now();
    worker.child.kill('SIGTERM');
    const exit = await worker.exited;
    const elapsed = Date.now() - signalled;
    const tail = JSON.stringify(worker.logs.slice(-6));

    expect(exit.code, worker.text() + tail).toBe(0);
    expect(elapsed, tail).toBeLessThan(BOUND_MS + MARGIN_MS);
    const warning = worker.logs.find((l) => l['level'] === 'WARN' && String(l['message']).includes('timed out after'));
    expect(warning, tail).toMatchObject({
      message: `Committing the consumer group offsets timed out after ${BOUND_MS} ms (task.shutdown.graceful.timeout.ms); the group coordinator will expire the membership after consumer.session.timeout.ms (3000 ms)`,
      abandoned: ['committing the consumer group offsets', 'leaving the consumer group', 'closing the consumer'],
      timeoutMs: BOUND_MS,
    });
    // The abandoned requests log nothing more, and nothing failed.
    expect(
      worker.logs.some((l) => l['level'] === 'ERROR'),
      tail,
    ).toBe(false);
    expect(
      worker.logs.some((l) => String(l['message']).startsWith('Leaving the consumer group failed')),
      tail,
    ).toBe(false);
    expect(worker.logs.at(-1)).toMatchObject({ message: 'Standalone worker stopped', recordsDelivered: expected.length });

    // The buffer was delivered during the stop, all of it, to S3 and the ledger.
    const shutdownFlushes = worker.logs.filter((l) => l['message'] === 'Flushed' && l['reason'] === 'shutdown');
    expect(shutdownFlushes.reduce((sum, l) => sum + Number(l['records']), 0)).toBe(expected.length);
    const ledger = JSON.parse(readFileSync(ledgerPath, 'utf8')) as { entries: Array<{ partition: number; committedOffset: number }> };
    expect(ledger.entries.map((e) => [e.partition, e.committedOffset]).sort()).toEqual(PARTITIONS.map((p) => [p, PER_PARTITION - 1]));
    const result = check(expected, await readDelivered(s3.client, s3.bucket, `${GROUP}/`));
    expect(result.lost).toEqual([]);
    expect(exactlyOnce(result)).toBe(true);
  }, 60_000);
});
