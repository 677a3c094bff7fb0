/**
 * The set-up the operations tests share. `useOpsWorld`: the S3 emulator and a DynamoDB Local
 * ledger table for one describe block, the operator's shell (`env`), the CLI run in-process on a
 * fixed clock, and delivery through the real sink as a mapping would batch it. `seedLedgerFile`:
 * a standalone worker's ledger file with committed partitions, for tests that need neither AWS
 * nor Kafka.
 */
import { afterAll, beforeAll, vi } from 'vitest';
import { FileOffsetLedger } from '../../lib/ledger/file-ledger.ts';
import { type CliRun, runCliCaptured } from './cli.ts';
import { createEmulatorSink, createTestLedgerTable, type LedgerTableForTest, type S3ForTest, startS3ForTest } from './emulators.ts';
import { toKafkaEvent } from '../../testkit/kafka/events.ts';
import type { LogRecord } from '../../testkit/kafka/records.ts';

/** The emulators and the CLI of one describe block; the fields are set in its `beforeAll`. */
export interface OpsWorld {
  s3: S3ForTest;
  ledger: LedgerTableForTest;
  /** The operator's shell: the bucket, the table, the region and the emulators' endpoints. */
  env: Record<string, string>;
  /** Runs `msk-s3-sink <argv>` in-process with `env`, the clock at the world's `now`. */
  cli(...argv: string[]): Promise<CliRun>;
  /**
   * Delivers records of `topic` as the mapping would, through the real sink: events of `batch`
   * records of every slice's partition at once.
   */
  deliver(topic: string, slices: ReadonlyArray<{ partition: number; records: readonly LogRecord[] }>, batch?: number): Promise<void>;
}

/**
 * Starts the S3 emulator and creates a ledger table (named after `name`) before the enclosing
 * block's tests, with the emulators' credentials in the environment; stops them after.
 */
export function useOpsWorld(name: string, options: { readonly now: number }): OpsWorld {
  const world = {
    cli: (...argv: string[]) => runCliCaptured(argv, world.env, () => options.now),
    async deliver(topic, slices, batch = 10) {
      const sink = createEmulatorSink(world.s3, world.ledger);
      const longest = Math.max(...slices.map((s) => s.records.length));
      for (let start = 0; start < longest; start += batch) {
        await sink.handle(
          toKafkaEvent(slices.map((s) => ({ topic, partition: s.partition, records: s.records.slice(start, start + batch) }))),
        );
      }
    },
  } as OpsWorld;
  beforeAll(async () => {
    world.s3 = await startS3ForTest();
    world.ledger = await createTestLedgerTable(name);
    world.env = {
      SINK_BUCKET: world.s3.bucket,
      LEDGER_TABLE: world.ledger.tableName,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_S3: world.s3.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: world.ledger.endpoint,
    };
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await world.s3?.stop();
  });
  return world;
}

/**
 * Writes a ledger file at `path` with one generation-0 entry per `[partition, committedOffset]`
 * of `topic`, as a worker that delivered offsets 0 … committed would have left it.
 */
export async function seedLedgerFile(path: string, topic: string, committed: ReadonlyArray<readonly [number, number]>): Promise<void> {
  const ledger = FileOffsetLedger.open(path);
  try {
    for (const [partition, committedOffset] of committed) {
      await ledger.advance(undefined, {
        topic,
        partition,
        generation: 0,
        committedOffset,
        lastObjectKey: `topics/${topic}/partition=${partition}/${topic}+${partition}+00000000000000000000.jsonl.gz`,
        lastRecordCount: committedOffset + 1,
        updatedAt: '2026-01-01T00:00:00.000Z',
      });
    }
  } finally {
    await ledger.close();
  }
}
