/**
 * The log's own edges under the standalone worker, on a real Kafka broker (the S3 emulator, the
 * worker a child process of the real CLI, file ledger):
 *
 * - a compacted topic (the cleaner run within the test: small segments, a low dirty ratio, a short
 *   cleaner backoff) has offset gaps at the start of the log and between records, so at the start
 *   of fetches and of flushes: every record that is there is delivered once, and no gap is
 *   recorded as skipped (the worker read the log from the ledger's committed offset + 1);
 * - records deleted below a stopped worker's position (DeleteRecords): on restart the fetch answers
 *   OFFSET_OUT_OF_RANGE; the lost range is recorded as a skipped range (kind gap), counted, and
 *   logged as a warning with topic, partition, from and to, and delivery goes on from the log start;
 * - `reset --to-timestamp` with `--bootstrap-servers` lands on the first offset at or after the
 *   time on both logs (the librdkafka mock answered -1): inside a compacted log, before a deleted
 *   range (the log start), and after the end (the high-water mark).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ledgerKey, readLedgerFile } from '../../lib/ledger/file-ledger.ts';
import { deliveredRecords, logOffsets, opsCli, produce, type TestRecord, useBrokerWorld } from '../fixtures/standalone/broker-world.ts';
import { emulatorEnv, startWorker, testWorkerProperties, type WorkerProcess, writeProperties } from '../fixtures/standalone/harness.ts';
import { sleep, until } from '../../testkit/wait.ts';

const COMPACTED = 'sa-compacted';
const RETAINED = 'sa-retained';
const GROUP = 'g-log-edges';
const PREFIX = `${GROUP}/`;
const T0 = Date.now() - 3_600_000;

// The cleaner looks for work every 100 ms; a small dedupe buffer keeps the JVM's heap small.
const world = useBrokerWorld('log-edges', { 'log.cleaner.backoff.ms': '100', 'log.cleaner.dedupe.buffer.size': '8388608' });

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

/**
 * The compacted topic's first 60 records: ten under one key (only the last survives), then unique
 * keys at even offsets and three keys taking turns at odd ones (only their last survives).
 */
const compactedKey = (i: number): string => (i < 10 ? 'early' : i % 2 === 0 ? `u${i}` : `d${i % 6}`);
const COMPACTED_RECORDS: TestRecord[] = Array.from({ length: 60 }, (_, i) => ({ key: compactedKey(i), n: i, timestamp: T0 + i * 1_000 }));
/** What compaction leaves of them: the last offset of each key. */
const SURVIVORS = [...new Map(COMPACTED_RECORDS.map((r, i) => [r.key, i])).values()].sort((a, b) => a - b);

describe('standalone worker on the log edges: compaction, retention, offsets for timestamps', () => {
  it('delivers a compacted log once with no skips, records what retention deleted as a gap, and resets by timestamp', async () => {
    const { dir, admin, workers, s3, broker } = world;
    const ledgerPath = join(dir, 'offsets.json');
    const config = join(dir, 'worker.properties');
    writeProperties(config, {
      // flush.size 4: flushes start and end on compaction gaps.
      ...testWorkerProperties({ bootstrapServers: broker.bootstrap, bucket: s3.bucket, group: GROUP, flushSize: 4 }),
      topics: `${COMPACTED},${RETAINED}`,
      'offset.storage.file.filename': ledgerPath,
    });
    const entry = (topic: string) => readLedgerFile(ledgerPath)?.get(ledgerKey(topic, 0));
    const skipLines = (worker: WorkerProcess) => worker.logs.filter((l) => String(l['message']).startsWith('Offsets skipped'));

    await admin.createTopics({
      topics: [COMPACTED],
      partitions: 1,
      replicas: 1,
      configs: [
        { name: 'cleanup.policy', value: 'compact' },
        { name: 'segment.ms', value: '100' },
        { name: 'min.cleanable.dirty.ratio', value: '0.01' },
        { name: 'min.compaction.lag.ms', value: '0' },
      ],
    });
    await admin.createTopics({ topics: [RETAINED], partitions: 1, replicas: 1 });

    // 1. Compaction: 60 records, then (after segment.ms) one more that rolls the segment, so the
    // cleaner compacts the first one. Wait until the log holds exactly what compaction leaves.
    await produce(world, COMPACTED, 0, COMPACTED_RECORDS);
    await sleep(300);
    await produce(world, COMPACTED, 0, [{ key: 'tail', n: 60, timestamp: T0 + 60_000 }]);
    const compacted = [...SURVIVORS, 60];
    let seen: number[] = [];
    await until(
      `the cleaner to compact ${COMPACTED} (last read: ${seen.length} records)`,
      async () => {
        seen = await logOffsets(world, COMPACTED, 0);
        return seen.length === compacted.length;
      },
      30_000,
      250,
    );
    expect(seen).toEqual(compacted);
    expect(compacted[0]).toBeGreaterThan(0); // a gap at the start of the log
    expect(compacted.some((offset, i) => i > 0 && offset - compacted[i - 1]! > 1)).toBe(true); // and inside it
    await produce(
      world,
      RETAINED,
      0,
      Array.from({ length: 30 }, (_, n) => ({ key: `r${n}`, n, timestamp: T0 + n * 1_000 })),
    );

    // 2. The worker delivers the compacted log: every survivor once, no skipped range, no warning.
    const first = startWorker('log-edges-1', config, emulatorEnv(s3.endpoint));
    workers.push(first);
    await untilWith(
      first,
      'both topics to be delivered',
      () => entry(COMPACTED)?.committedOffset === 60 && entry(RETAINED)?.committedOffset === 29,
      60_000,
    );
    first.child.kill('SIGTERM');
    expect((await first.exited).code, first.text()).toBe(0);
    expect(entry(COMPACTED)).toMatchObject({ generation: 0, committedOffset: 60 });
    expect(entry(COMPACTED)?.skippedRanges ?? []).toEqual([]);
    expect(skipLines(first)).toEqual([]);
    expect((await deliveredRecords(world, `${PREFIX}${COMPACTED}/`)).map((r) => r.offset)).toEqual(compacted);

    // 3. Retention: with the worker stopped, 30 more records, then everything below 45 deleted.
    await produce(
      world,
      RETAINED,
      0,
      Array.from({ length: 30 }, (_, i) => ({ key: `r${30 + i}`, n: 30 + i, timestamp: T0 + (30 + i) * 1_000 })),
    );
    const [deleted] = await admin.deleteRecords({ topics: [{ name: RETAINED, partitions: [{ partition: 0, offset: 45n }] }] });
    expect(deleted?.partitions[0]?.lowWatermark).toBe(45n);
    const second = startWorker('log-edges-2', config, emulatorEnv(s3.endpoint));
    workers.push(second);
    await untilWith(second, 'the retained topic to be delivered from the log start', () => entry(RETAINED)?.committedOffset === 59, 60_000);
    second.child.kill('SIGTERM');
    expect((await second.exited).code, second.text()).toBe(0);
    expect(entry(RETAINED)?.skippedRanges).toMatchObject([{ kind: 'gap', generation: 0, fromOffset: 30, toOffset: 44 }]);
    expect(second.logs.find((l) => String(l['message']).startsWith('Position below the log start'))).toMatchObject({
      level: 'WARN',
      partition: `${RETAINED}-0`,
      position: 30,
      logStart: 45,
    });
    expect(skipLines(second)).toEqual([
      expect.objectContaining({
        level: 'WARN',
        topic: RETAINED,
        partition: `${RETAINED}-0`,
        fromOffset: 30,
        toOffset: 44,
        skippedOffsets: 15,
      }),
    ]);
    expect((await deliveredRecords(world, `${PREFIX}${RETAINED}/`)).map((r) => r.offset)).toEqual([
      ...Array.from({ length: 30 }, (_, i) => i),
      ...Array.from({ length: 15 }, (_, i) => 45 + i),
    ]);
    // verify reports the recorded gap as a warning, not an error.
    const verified = await opsCli(world, ledgerPath, PREFIX, ['verify', '--json']);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.json()).toMatchObject({ errors: 0 });

    // 4. reset --to-timestamp lands on the first offset at or after the time, from the broker.
    const plan = async (topic: string, at: number): Promise<number> => {
      const result = await opsCli(world, ledgerPath, PREFIX, [
        'reset',
        '--topic',
        topic,
        '--to-timestamp',
        String(at),
        '--bootstrap-servers',
        broker.bootstrap,
        '--reason',
        'by time',
        '--by',
        'ops',
        '--dry-run',
        '--json',
      ]);
      expect(result.code, result.stderr).toBe(0);
      const steps = result.json().steps as Array<{ partition: number; nextOffset: number }>;
      expect(steps.map((s) => s.partition)).toEqual([0]);
      return steps[0]!.nextOffset;
    };
    // Compacted: the first survivor at or after T0 + 12.5 s (offset 12 is gone if it is).
    expect(await plan(COMPACTED, T0 + 12_500)).toBe(compacted.find((offset) => offset >= 13));
    expect(await plan(COMPACTED, T0 - 5_000)).toBe(compacted[0]);
    // Retained: inside what is left; before it (the deleted range): the log start; after the end: the high-water mark.
    expect(await plan(RETAINED, T0 + 50_500)).toBe(51);
    expect(await plan(RETAINED, T0 + 10_000)).toBe(45);
    expect(await plan(RETAINED, T0 + 3_600_000)).toBe(60);
    // Applied, the ledger starts the new generation just before it.
    const applied = await opsCli(world, ledgerPath, PREFIX, [
      'reset',
      '--topic',
      RETAINED,
      '--to-timestamp',
      new Date(T0 + 50_500).toISOString(),
      '--bootstrap-servers',
      broker.bootstrap,
      '--reason',
      'by time',
      '--by',
      'ops',
    ]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(entry(RETAINED)).toMatchObject({ generation: 1, committedOffset: 50 });
  }, 240_000);
});
