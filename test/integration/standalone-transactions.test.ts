/**
 * Transactions on a real Kafka broker (issue 16, "Transactions"): two transactional producers
 * (`@platformatic/kafka`'s Producer with a `transactionalId`: beginTransaction, send, commit or
 * abort) interleave committed and aborted transactions with plain records on one partition, and
 * one transaction stays open while the worker runs. The worker (the real CLI, a child process; a
 * file ledger; the S3 emulator) must never write an aborted record, must stop at the last stable
 * offset while the transaction is open and deliver its records once it commits, and two attempts
 * from the same ledger position (reset, run again) must write the same records.
 *
 * The two runs fetch differently, on purpose. The first reads the whole log in one response,
 * with two aborted transactions of one producer in it (the client's own filter then keeps the
 * first one's records); the second reads with `consumer.max.partition.fetch.bytes` at its floor
 * (1 KiB, smaller than two batches), so that responses end inside aborted transactions, before
 * their ABORT markers (the client's own filter then keeps all of them).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin, Consumer, FetchIsolationLevels, Producer, stringSerializers } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LOCAL_CREDENTIALS } from '../../testkit/emulators/clients.ts';
import { startKafkaBroker, type KafkaBroker } from '../../testkit/emulators/kafka-broker.ts';
import { emulatorEnv, startWorker, testWorkerProperties, writeProperties, type WorkerProcess } from '../fixtures/standalone/harness.ts';
import { startS3ForTest, type S3ForTest } from '../support/emulators.ts';
import { runCliCaptured } from '../support/cli.ts';
import { readDelivered, type DeliveredLine } from '../../testkit/read-back.ts';
import { sleep, until } from '../../testkit/wait.ts';

const TOPIC = 'sa-transactions';
const GROUP = 'g-transactions';
/** Pads values so that a 1 KiB fetch holds one or two batches of three records. */
const PAD = 'x'.repeat(150);

type Fate = 'committed' | 'aborted' | 'plain';

/** A produced record: where the broker put it and what became of its transaction. */
interface Produced {
  readonly offset: number;
  readonly label: string;
  readonly fate: Fate;
}

let broker: KafkaBroker;
let s3: S3ForTest;
let dir: string;
const workers: WorkerProcess[] = [];
const clients: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  [broker, s3] = await Promise.all([startKafkaBroker(), startS3ForTest()]);
  dir = mkdtempSync(join(tmpdir(), 'standalone-transactions-'));
  const admin = new Admin({ clientId: 'transactions-test', bootstrapBrokers: [broker.bootstrap], retries: 3, retryDelay: 200 });
  try {
    await admin.createTopics({ topics: [TOPIC], partitions: 1, replicas: 1 });
  } finally {
    await admin.close();
  }
  // The ops CLI, run in-process for the reset, reaches the S3 emulator with its credentials.
  vi.stubEnv('AWS_ACCESS_KEY_ID', LOCAL_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', LOCAL_CREDENTIALS.secretAccessKey);
}, 180_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await Promise.all([broker?.stop(), s3?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function producer(transactionalId?: string): Producer<string, string, string, string> {
  const p = new Producer({
    clientId: `transactions-test-${transactionalId ?? 'plain'}`,
    bootstrapBrokers: [broker.bootstrap],
    serializers: stringSerializers,
    autocreateTopics: false,
    retries: 3,
    retryDelay: 200,
    // The client sends its request timeout as the transaction timeout: the open transaction
    // below must outlive the test, not be aborted by the coordinator after the default 5 s.
    ...(transactionalId === undefined ? {} : { idempotent: true, transactionalId, timeout: 120_000 }),
  });
  clients.push(p);
  return p;
}

/** The committed offsets of the file ledger, by partition. */
function ledgerOffsets(path: string): Map<number, number> {
  try {
    const file = JSON.parse(readFileSync(path, 'utf8')) as { entries: Array<{ partition: number; committedOffset: number }> };
    return new Map(file.entries.map((e) => [e.partition, e.committedOffset]));
  } catch {
    return new Map();
  }
}

/** The delivered lines of one generation as `offset label`, in offset order. */
function lines(delivered: readonly DeliveredLine[], generation: number): string[] {
  return delivered
    .filter((d) => d.generation === generation)
    .map((d) => ({ offset: Number(d.line['offset']), label: String((d.line['value'] as { label?: unknown } | null)?.label) }))
    .sort((a, b) => a.offset - b.offset)
    .map((r) => `${r.offset} ${r.label}`);
}

describe('standalone worker and transactions on a real Kafka broker', () => {
  it('never writes an aborted record, waits for an open transaction, and writes the same records again after a reset', async () => {
    const produced: Produced[] = [];
    /** Sends `count` records in one batch (inside `send`'s transaction, if any); their fate is settled later for transactions. */
    const send = async (
      via: { send: Producer<string, string, string, string>['send'] },
      name: string,
      count: number,
      fate: Fate,
    ): Promise<Produced[]> => {
      const first = produced.filter((p) => p.label.startsWith(`${name}.`)).length;
      const labels = Array.from({ length: count }, (_, i) => `${name}.${first + i}`);
      const result = await via.send({
        messages: labels.map((label) => ({ topic: TOPIC, partition: 0, key: label, value: JSON.stringify({ label, pad: PAD }) })),
      });
      const base = Number(result.offsets?.find((o) => o.topic === TOPIC && o.partition === 0)?.offset ?? -1);
      expect(base, `the base offset of ${name}`).toBeGreaterThanOrEqual(0);
      const records = labels.map((label, i) => ({ offset: base + i, label, fate }));
      produced.push(...records);
      return records;
    };
    const a = producer('tx-a');
    const b = producer('tx-b');
    const plain = producer();

    // Before the worker starts: committed and aborted transactions of A and B interleaved with
    // plain records, two of A's transactions aborted.
    const a1 = await a.beginTransaction();
    await send(a1, 'a1', 3, 'aborted');
    const b1 = await b.beginTransaction();
    await send(b1, 'b1', 3, 'committed');
    await send(plain, 'p1', 2, 'plain');
    await send(a1, 'a1', 3, 'aborted');
    await send(b1, 'b1', 2, 'committed');
    await a1.abort();
    await b1.commit();
    const a2 = await a.beginTransaction();
    await send(a2, 'a2', 3, 'committed');
    const b2 = await b.beginTransaction();
    await send(b2, 'b2', 3, 'aborted');
    await send(a2, 'a2', 1, 'committed');
    await send(b2, 'b2', 3, 'aborted');
    await a2.commit();
    await b2.abort();
    await send(plain, 'p2', 2, 'plain');
    const a3 = await a.beginTransaction();
    await send(a3, 'a3', 3, 'aborted');
    await send(a3, 'a3', 3, 'aborted');
    await a3.abort();
    const a4 = await a.beginTransaction();
    await send(a4, 'a4', 2, 'committed');
    await a4.commit();
    // An open transaction, and committed records behind it: all above the last stable offset.
    const a5 = await a.beginTransaction();
    const open = await send(a5, 'a5', 3, 'committed');
    await send(plain, 'p3', 2, 'plain');
    const b3 = await b.beginTransaction();
    await send(b3, 'b3', 2, 'committed');
    await b3.commit();

    const lso = open[0]!.offset;
    const probe = new Consumer({ clientId: 'transactions-probe', groupId: 'transactions-probe', bootstrapBrokers: [broker.bootstrap] });
    clients.push(probe);
    const endOffset = async (isolationLevel: number): Promise<number> =>
      Number((await probe.listOffsets({ topics: [TOPIC], timestamp: -1n, isolationLevel })).get(TOPIC)![0]);
    expect(await endOffset(FetchIsolationLevels.READ_COMMITTED)).toBe(lso);
    expect(await endOffset(FetchIsolationLevels.READ_UNCOMMITTED)).toBeGreaterThan(lso);

    const delivered = produced.filter((p) => p.fate !== 'aborted');
    const expected = delivered.map((p) => `${p.offset} ${p.label}`);
    const belowLso = delivered.filter((p) => p.offset < lso);
    const ledgerPath = join(dir, 'transactions.offsets.json');
    const config = join(dir, 'transactions.properties');
    const properties = {
      ...testWorkerProperties({ bootstrapServers: broker.bootstrap, bucket: s3.bucket, group: GROUP }),
      // The broker's floor (group.min.session.timeout.ms, 6 s by default); one worker never rebalances here.
      'consumer.session.timeout.ms': 6000,
      topics: TOPIC,
      'offset.storage.file.filename': ledgerPath,
    };
    writeProperties(config, properties);
    const env = emulatorEnv(s3.endpoint);

    // 1. The first attempt delivers what is below the last stable offset, and nothing above it.
    const first = startWorker('transactions-1', config, env);
    workers.push(first);
    await first.waitForLog((l) => l['message'] === 'Partitions assigned and positioned');
    await until(
      'the ledger to reach the last record below the last stable offset',
      () => ledgerOffsets(ledgerPath).get(0) === belowLso.at(-1)!.offset,
      40_000,
    );
    // A few more fetch rounds (fetch.max.wait 500 ms, flush every 300 ms), had anything past the LSO been fetched.
    await sleep(1_500);
    expect(ledgerOffsets(ledgerPath).get(0)).toBe(belowLso.at(-1)!.offset);
    expect(lines(await readDelivered(s3.client, s3.bucket, `${GROUP}/`), 0)).toEqual(belowLso.map((p) => `${p.offset} ${p.label}`));

    // 2. The transaction commits: the worker delivers it and what was behind it.
    await a5.commit();
    await until('the ledger to reach the last record', () => ledgerOffsets(ledgerPath).get(0) === delivered.at(-1)!.offset, 40_000);
    first.child.kill('SIGTERM');
    expect((await first.exited).code, first.text()).toBe(0);
    const afterFirst = await readDelivered(s3.client, s3.bucket, `${GROUP}/`);
    expect(lines(afterFirst, 0)).toEqual(expected);

    // 3. Reset to the start and run again, fetching 1 KiB at a time: the same records, as generation 1.
    const shell = {
      SINK_BUCKET: s3.bucket,
      SINK_PREFIX: `${GROUP}/`,
      SINK_DEAD_LETTER_PREFIX: `dead-${GROUP}/`,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_S3: s3.endpoint,
    };
    const reset = await runCliCaptured(
      [
        'reset',
        '--topic',
        TOPIC,
        '--partition',
        '0',
        '--to-offset',
        '0',
        '--reason',
        'transactions test',
        '--by',
        'ops',
        '--id',
        'tx-1',
        '--ledger-file',
        ledgerPath,
      ],
      shell,
      Date.now,
    );
    expect(reset.code, reset.stderr).toBe(0);
    writeProperties(config, { ...properties, 'consumer.max.partition.fetch.bytes': 1024 });
    const second = startWorker('transactions-2', config, env);
    workers.push(second);
    const positioned = await second.waitForLog((l) => l['message'] === 'Partitions assigned and positioned');
    expect(positioned['partitions']).toEqual([{ partition: `${TOPIC}-0`, position: 0, from: 'ledger' }]);
    await until('the second attempt to reach the last record', () => ledgerOffsets(ledgerPath).get(0) === delivered.at(-1)!.offset, 40_000);
    second.child.kill('SIGTERM');
    expect((await second.exited).code, second.text()).toBe(0);
    const afterSecond = await readDelivered(s3.client, s3.bucket, `${GROUP}/`);
    expect(lines(afterSecond, 1)).toEqual(expected);
    expect(lines(afterSecond, 0)).toEqual(expected);
    // Commit markers and aborted batches are the log's own gaps: the worker read past them itself,
    // so neither attempt recorded or logged a skipped range.
    for (const worker of [first, second]) expect(worker.logs.filter((l) => l['message'] === 'Offsets skipped')).toEqual([]);
    const entry = (JSON.parse(readFileSync(ledgerPath, 'utf8')) as { entries: Array<Record<string, unknown>> }).entries[0];
    expect(entry?.['skippedRanges'] ?? []).toEqual([]);
    // Belt and braces: no aborted label anywhere under the prefix.
    const abortedLabels = new Set(produced.filter((p) => p.fate === 'aborted').map((p) => p.label));
    expect(afterSecond.filter((d) => abortedLabels.has(String((d.line['value'] as { label?: unknown } | null)?.label)))).toEqual([]);
  }, 150_000);
});
