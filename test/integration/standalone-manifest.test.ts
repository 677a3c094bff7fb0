/**
 * `msk-s3-sink manifest --config worker.properties`: completeness markers for a standalone
 * worker with the hourly partitioner, the layout, bucket, prefix and ledger file all taken from
 * the worker's own file (no SINK_* variables, no --bucket, --prefix or --ledger-file). Against a
 * real Kafka broker, the S3 emulator and the worker as a child process of the real CLI.
 */
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../lib/ops/cli.ts';
import { emulatorEnv, startWorker, testWorkerProperties, useStandaloneWorld, writeProperties } from '../fixtures/standalone/harness.ts';
import { until } from '../../testkit/wait.ts';

const TOPIC = 'sa-hourly';
const GROUP = 'g-manifest';
const PARTITIONS = [0, 1, 2, 3];
/** A record every 10 minutes from 10:00: 20 records reach 13:10, so hours 10, 11 and 12 are complete. */
const T0 = Date.UTC(2026, 0, 1, 10);
const PER_PARTITION = 20;

const world = useStandaloneWorld({ topic: TOPIC, name: 'manifest', localCredentials: true });

describe('manifest --config with a standalone worker (hourly partitioner, file ledger)', () => {
  it('writes _manifest.json in every complete hour, reading everything from the worker file', async () => {
    const { cluster, s3, dir, workers } = world;
    const config = join(dir, 'hourly.properties');
    const ledgerPath = join(dir, 'hourly.offsets.json');
    writeProperties(config, {
      ...testWorkerProperties({ bootstrapServers: cluster.bootstrapServers, bucket: s3.bucket, group: GROUP, flushSize: 100 }),
      topics: TOPIC,
      'partitioner.class': 'io.confluent.connect.storage.partitioner.HourlyPartitioner',
      timezone: 'UTC',
      // Relative to the worker file, as the worker and --config both read it.
      'offset.storage.file.filename': 'hourly.offsets.json',
    });
    for (const partition of PARTITIONS) {
      await cluster.produce(
        TOPIC,
        partition,
        Array.from({ length: PER_PARTITION }, (_, i) => ({
          key: `k${i}`,
          value: JSON.stringify({ n: i }),
          timestamp: T0 + i * 10 * 60_000,
        })),
      );
    }
    const worker = startWorker('manifest', config, emulatorEnv(s3.endpoint));
    workers.push(worker);
    const ends = (): boolean => {
      if (!existsSync(ledgerPath)) return false;
      const entries = (JSON.parse(readFileSync(ledgerPath, 'utf8')) as { entries: Array<{ partition: number; committedOffset: number }> })
        .entries;
      return PARTITIONS.every((p) => entries.some((e) => e.partition === p && e.committedOffset === PER_PARTITION - 1));
    };
    await until('the ledger to reach the end of every partition', ends, 40_000);
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code, worker.text()).toBe(0);

    // Nothing in the environment but how to reach S3: the rest comes from the worker's file.
    const cli = async (...argv: string[]) => {
      let stdout = '';
      let stderr = '';
      const code = await runCli(
        [...argv, '--config', config],
        { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_S3: s3.endpoint },
        {
          stdout: { write: (text: string) => (stdout += text) },
          stderr: { write: (text: string) => (stderr += text), isTTY: false },
          now: Date.now,
        },
      );
      return { code, stdout, stderr, json: () => JSON.parse(stdout) };
    };
    const hours = [10, 11, 12].map((hour) => `${GROUP}/${TOPIC}/year=2026/month=01/day=01/hour=${hour}/_manifest.json`);
    const first = await cli('manifest', '--topic', TOPIC, '--partitions', String(PARTITIONS.length), '--grace-ms', '0', '--json');
    expect(first.code, first.stderr).toBe(0);
    expect(first.json()).toMatchObject({ dryRun: false, due: hours, written: hours, existing: [] });
    expect(first.json().pending.map((p: { path: string }) => p.path)).toEqual(['year=2026/month=01/day=01/hour=13']);
    const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${GROUP}/` }));
    expect(
      (listed.Contents ?? [])
        .map((o) => o.Key!)
        .filter((key) => key.endsWith('/_manifest.json'))
        .sort(),
    ).toEqual(hours);
    // Idempotent: run again, they are already there.
    const again = await cli('manifest', '--topic', TOPIC, '--partitions', String(PARTITIONS.length), '--grace-ms', '0', '--json');
    expect(again.json()).toMatchObject({ due: hours, written: [], existing: hours });
  }, 90_000);
});
