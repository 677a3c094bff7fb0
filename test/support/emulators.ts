/**
 * Helpers for tests that need the local emulators: a fresh S3 emulator with a bucket, and a
 * uniquely named ledger table in the run's shared DynamoDB Local (see global-setup.ts).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { createLedgerTable, localDynamoDbClient, localS3Client } from '../../testkit/emulators/clients.ts';
import { startS3Emulator, type S3Emulator, type S3EmulatorOptions } from '../../testkit/emulators/s3-emulator.ts';
import { DynamoDbOffsetLedger } from '../../lib/aws/dynamodb-ledger.ts';
import { S3ObjectStore } from '../../lib/aws/s3-object-store.ts';
import { loadConfig } from '../../lib/config/config.ts';
import { systemClock } from '../../lib/core/ports.ts';
import { createSink, type Sink } from '../../lib/sink/sink.ts';
import { silentLogger, silentMetrics } from '../../testkit/recorders.ts';

/** A name no other test in this run uses: `<prefix>-<random>` (valid for buckets and tables). */
export function uniqueName(prefix = 'test'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** The run's DynamoDB Local endpoint. */
export function dynamoEndpoint(): string {
  return inject('dynamoEndpoint');
}

export interface S3ForTest {
  readonly emulator: S3Emulator;
  readonly endpoint: string;
  readonly client: S3Client;
  readonly bucket: string;
  /** Destroys the client and stops the emulator. */
  stop(): Promise<void>;
}

/** Starts an S3 emulator, creates a bucket in it, and returns an SDK client bound to it. */
export async function startS3ForTest(
  options: S3EmulatorOptions & { readonly bucket?: string; readonly maxAttempts?: number } = {},
): Promise<S3ForTest> {
  const { bucket = uniqueName('bucket'), maxAttempts, ...emulatorOptions } = options;
  const emulator = await startS3Emulator(emulatorOptions);
  const client = localS3Client(emulator.endpoint, maxAttempts === undefined ? {} : { maxAttempts });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  emulator.resetCounters();
  return {
    emulator,
    endpoint: emulator.endpoint,
    client,
    bucket,
    async stop() {
      client.destroy();
      await emulator.stop();
    },
  };
}

export interface LedgerTableForTest {
  readonly tableName: string;
  readonly endpoint: string;
  readonly client: DynamoDBClient;
}

/** Creates a uniquely named ledger table (from `ledgerTableDefinition`) in the run's DynamoDB Local. */
export async function createTestLedgerTable(prefix = 'ledger'): Promise<LedgerTableForTest> {
  const endpoint = dynamoEndpoint();
  const client = localDynamoDbClient(endpoint);
  const tableName = uniqueName(prefix);
  await createLedgerTable(client, tableName);
  return { tableName, endpoint, client };
}

/**
 * The sink as the function builds it, on the emulators: the real S3 and DynamoDB adapters over
 * `s3` and `ledger`, the system clock, silent logs and metrics; `env` adds `SINK_*` settings.
 */
export function createEmulatorSink(s3: S3ForTest, ledger: LedgerTableForTest, env: Readonly<Record<string, string>> = {}): Sink {
  return createSink({
    config: loadConfig({ SINK_BUCKET: s3.bucket, LEDGER_TABLE: ledger.tableName, ...env }),
    ports: {
      ledger: new DynamoDbOffsetLedger({ client: ledger.client, tableName: ledger.tableName }),
      store: new S3ObjectStore({ client: s3.client, bucket: s3.bucket }),
      clock: systemClock,
    },
    logger: silentLogger,
    metrics: silentMetrics,
  });
}
