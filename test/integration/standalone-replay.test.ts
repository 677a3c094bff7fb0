/**
 * A standalone user's replay, as the README walks through it: a worker with a file ledger
 * delivers (a real Kafka broker, the S3 emulator; the worker a child process of the real CLI),
 * `msk-s3-sink status/verify --ledger-file` see it (and `--config` with the worker's own file, in
 * place of the flags and variables; `status --bootstrap-servers` with the broker's high-water
 * marks and the lag), `reset` is refused while the worker runs, the worker is stopped, `reset
 * --to-timestamp` (a dry run first) starts a new generation at the broker's offset for that time,
 * the worker is started again and delivers the range again; verify agrees, the read-back finds
 * every record of the new generation exactly once, and prune removes what the replay superseded.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  emulatorEnv,
  produceKnown,
  startWorker,
  testWorkerProperties,
  useStandaloneWorld,
  writeProperties,
} from '../fixtures/standalone/harness.ts';
import { runCliCaptured } from '../support/cli.ts';
import type { LogRecord } from '../../testkit/kafka/records.ts';
import { check, exactlyOnce, readDelivered } from '../../testkit/read-back.ts';
import { until } from '../../testkit/wait.ts';

const TOPIC = 'sa-replay';
const GROUP = 'g-replay';
const PARTITIONS = [0, 1, 2, 3];
const PER_PARTITION = 300;
/** Partitions 0 and 1 are replayed from this offset; 2 and 3 are left alone. */
const FROM = 120;
/** Record n of every partition has CreateTime T0 + n seconds. */
const T0 = Date.UTC(2026, 0, 1);
/** Half a second before record FROM: the first record at or after it is FROM. */
const REPLAY_AT = new Date(T0 + FROM * 1000 - 500).toISOString();
const REPLAYED = [0, 1];

const world = useStandaloneWorld({ topic: TOPIC, name: 'replay', localCredentials: true });

describe('standalone replay with the file ledger: stop, reset, start', () => {
  it('delivers, is reset while stopped, and delivers the range again as generation 1, once', async () => {
    const { cluster, s3, dir, workers } = world;
    const ledgerPath = join(dir, 'replay.offsets.json');
    const config = join(dir, 'replay.properties');
    writeProperties(config, {
      ...testWorkerProperties({ bootstrapServers: cluster.bootstrapServers, bucket: s3.bucket, group: GROUP, flushSize: 100 }),
      topics: TOPIC,
      'offset.storage.file.filename': ledgerPath,
    });
    const workerEnv = emulatorEnv(s3.endpoint);
    // The operator's shell: where the bucket is, as for the Lambda deployment; the ledger by flag.
    const shell = {
      SINK_BUCKET: s3.bucket,
      SINK_PREFIX: `${GROUP}/`,
      SINK_DEAD_LETTER_PREFIX: `dead-${GROUP}/`,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_S3: s3.endpoint,
    };
    const cli = (...argv: string[]) => runCliCaptured([...argv, '--ledger-file', ledgerPath], shell, Date.now);
    // The short form: everything from the worker's own file, nothing from the shell but AWS's endpoint.
    const cliWithConfig = (...argv: string[]) =>
      runCliCaptured([...argv, '--config', config], { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_S3: s3.endpoint }, Date.now);
    const committed = async (): Promise<Array<{ partition: number; generation: number; committedOffset: number; resets: number }>> => {
      const status = await cli('status', '--json');
      return status.code === 0 ? status.json() : [];
    };
    const reachedEnd = async (generations: (partition: number) => number) => {
      const rows = await committed();
      return PARTITIONS.every((p) =>
        rows.some((r) => r.partition === p && r.committedOffset === PER_PARTITION - 1 && r.generation === generations(p)),
      );
    };

    const expected: LogRecord[] = [];
    for (const p of PARTITIONS) expected.push(...(await produceKnown(cluster, TOPIC, p, 0, PER_PARTITION, (offset) => T0 + offset * 1000)));
    const kafka = ['--bootstrap-servers', cluster.bootstrapServers];
    const lag = async () =>
      ((await cli('status', ...kafka, '--json')).json() as Array<{ partition: number; highWatermark: number; lag: number }>).map(
        ({ partition, highWatermark, lag }) => ({
          partition,
          highWatermark,
          lag,
        }),
      );

    // 1. The worker delivers everything; status and verify see it through the file.
    const first = startWorker('replay-1', config, workerEnv);
    workers.push(first);
    await first.waitForLog((l) => l['message'] === 'Partitions assigned and positioned');
    await until('the first delivery to reach the end of every partition', () => reachedEnd(() => 0), 40_000);
    expect(await committed()).toMatchObject(
      PARTITIONS.map((partition) => ({ partition, generation: 0, committedOffset: PER_PARTITION - 1, resets: 0 })),
    );
    const table = await cli('status');
    expect(table.stdout).toMatch(new RegExp(`^${TOPIC}\\s+0\\s+0\\s+${PER_PARTITION - 1}\\s`, 'm'));
    // With the cluster: its high-water marks, and no lag.
    expect(await lag()).toEqual(PARTITIONS.map((partition) => ({ partition, highWatermark: PER_PARTITION, lag: 0 })));
    const withKafka = await cli('status', ...kafka);
    expect(withKafka.stdout).toMatch(/^topic\s+partition\s+generation\s+committed\s+high-water\s+lag\s/);
    expect(withKafka.stdout).toMatch(new RegExp(`^${TOPIC}\\s+3\\s+0\\s+${PER_PARTITION - 1}\\s+${PER_PARTITION}\\s+0\\s`, 'm'));
    const verified = await cli('verify');
    expect(verified.stdout, verified.stderr).toContain('OK: S3 and the ledger agree');
    expect(verified.code).toBe(0);
    // The same with --config: the ledger file, the bucket and the prefixes from the worker's file.
    const statusByConfig = await cliWithConfig('status', '--json');
    expect(statusByConfig.code, statusByConfig.stderr).toBe(0);
    expect(statusByConfig.json()).toEqual((await cli('status', '--json')).json());
    const verifiedByConfig = await cliWithConfig('verify', '--json');
    expect(verifiedByConfig.code, verifiedByConfig.stderr).toBe(0);
    expect(verifiedByConfig.json()).toMatchObject({ errors: 0, objectsScanned: (await cli('verify', '--json')).json().objectsScanned });

    // 2. reset is refused while the worker runs: it holds the file (--force does not lift that).
    const reset = [
      'reset',
      '--topic',
      TOPIC,
      ...REPLAYED.flatMap((p) => ['--partition', String(p)]),
      '--to-timestamp',
      REPLAY_AT,
      ...kafka,
      '--reason',
      'replay test',
      '--by',
      'ops',
      '--id',
      'replay-1',
    ];
    const before = readFileSync(ledgerPath, 'utf8');
    for (const extra of [[], ['--force']]) {
      const refused = await cli(...reset, ...extra);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`is in use by process ${first.child.pid}`);
      expect(refused.stderr).toContain('Stop the worker first');
    }
    expect(readFileSync(ledgerPath, 'utf8')).toBe(before);

    // 3. Stop the worker; the dry run shows the plan and changes nothing; the reset applies it.
    first.child.kill('SIGTERM');
    expect((await first.exited).code, first.text()).toBe(0);
    const stopped = readFileSync(ledgerPath, 'utf8');
    const dry = await cli(...reset, '--dry-run', '--json');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json().steps).toMatchObject(
      REPLAYED.map((partition) => ({
        partition,
        current: { generation: 0, committedOffset: PER_PARTITION - 1 },
        nextOffset: FROM,
        toGeneration: 1,
        direction: 'replay',
      })),
    );
    expect(readFileSync(ledgerPath, 'utf8')).toBe(stopped);
    const applied = await cli(...reset);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stderr).toContain('Start the worker again');
    expect(await committed()).toMatchObject([
      { partition: 0, generation: 1, committedOffset: FROM - 1, resets: 1 },
      { partition: 1, generation: 1, committedOffset: FROM - 1, resets: 1 },
      { partition: 2, generation: 0, committedOffset: PER_PARTITION - 1, resets: 0 },
      { partition: 3, generation: 0, committedOffset: PER_PARTITION - 1, resets: 0 },
    ]);
    // The replayed partitions now lag by the range to deliver again.
    expect(await lag()).toEqual(
      PARTITIONS.map((partition) => ({
        partition,
        highWatermark: PER_PARTITION,
        lag: REPLAYED.includes(partition) ? PER_PARTITION - FROM : 0,
      })),
    );

    // 4. Start the worker again: it resumes each partition at the ledger + 1, so the range is delivered again.
    const second = startWorker('replay-2', config, workerEnv);
    workers.push(second);
    const positioned = await second.waitForLog((l) => l['message'] === 'Partitions assigned and positioned');
    expect(positioned['partitions']).toEqual(
      expect.arrayContaining(
        PARTITIONS.map((p) => ({ partition: `${TOPIC}-${p}`, position: REPLAYED.includes(p) ? FROM : PER_PARTITION, from: 'ledger' })),
      ),
    );
    await until('the replay to reach the end of the replayed partitions', () => reachedEnd((p) => (REPLAYED.includes(p) ? 1 : 0)), 40_000);
    second.child.kill('SIGTERM');
    expect((await second.exited).code, second.text()).toBe(0);
    const summary = second.logs.find((l) => l['message'] === 'Standalone worker stopped');
    expect(summary?.['recordsDelivered']).toBe(REPLAYED.length * (PER_PARTITION - FROM));

    // 5. verify agrees, every object read; the read-back finds the new generation exactly once.
    const after = await cli('verify', '--read', '--json');
    expect(after.code, after.stdout).toBe(0);
    expect(after.json()).toMatchObject({ errors: 0 });
    expect(after.json().partitions).toMatchObject(
      PARTITIONS.map((partition) => ({ partition, generation: REPLAYED.includes(partition) ? 1 : 0, committedOffset: PER_PARTITION - 1 })),
    );
    const delivered = await readDelivered(s3.client, s3.bucket, `${GROUP}/`);
    const replayedRecords = expected.filter((r) => REPLAYED.includes(r.partition) && r.offset >= FROM);
    const generation1 = check(replayedRecords, delivered, { generation: 1 });
    expect(generation1.lost).toEqual([]);
    expect(generation1.duplicated).toEqual([]);
    expect(exactlyOnce(generation1)).toBe(true);
    expect(generation1.delivered).toBe(replayedRecords.length);
    // Generation 0 still holds the first delivery, whole and once (prune would delete its superseded part).
    expect(exactlyOnce(check(expected, delivered, { generation: 0 }))).toBe(true);
    const located = await cli('locate', '--topic', TOPIC, '--partition', '0', '--offset', String(FROM), '--json');
    expect(located.json()).toMatchObject({ offset: FROM, generation: 1 });

    // 6. prune deletes the generation-0 objects the replay wholly superseded; verify still agrees.
    const prunable = (await cli('prune', '--dry-run', '--json')).json().keys as string[];
    expect(prunable.length).toBeGreaterThan(0);
    expect(prunable.every((key) => !key.includes('+g1') && /partition=[01]\//.test(key))).toBe(true);
    // Without --yes, a dry run; with it (the worker is stopped: prune writes its audit record to the file), it deletes.
    expect((await cli('prune')).code).toBe(0);
    expect((await cli('prune', '--dry-run', '--json')).json().keys).toEqual(prunable);
    expect((await cli('prune', '--yes', '--by', 'ops')).code).toBe(0);
    expect((await cli('prune', '--dry-run', '--json')).json().keys).toEqual([]);
    // history shows the reset and the prune of each replayed partition, from the file.
    const trail = (await cli('history', '--json')).json() as Array<{
      action: string;
      partition: number;
      id: string;
      by: string;
      objects?: number;
    }>;
    expect(trail.map((r) => [r.action, r.partition, r.by]).sort()).toEqual(
      REPLAYED.flatMap((p) => [
        ['prune', p, 'ops'],
        ['reset', p, 'ops'],
      ]).sort(),
    );
    expect(trail.filter((r) => r.action === 'prune').reduce((n, r) => n + r.objects!, 0)).toBe(prunable.length);
    const pruned = await cli('verify', '--read');
    expect(pruned.stdout).toContain('OK: S3 and the ledger agree');
    expect(pruned.code).toBe(0);
    const prunedByConfig = await cliWithConfig('verify', '--read');
    expect(prunedByConfig.stdout, prunedByConfig.stderr).toContain('OK: S3 and the ledger agree');
    expect(prunedByConfig.code).toBe(0);
  }, 120_000);
});
