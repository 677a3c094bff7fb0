/**
 * Helpers for tests that need the local emulators: a fresh S3 emulator with a bucket, and a
 * uniquely named ledger table in the run's shared DynamoDB Local (see global-setup.ts).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { createLedgerTable, localDynamoDbClient, localS3Client } from '../../local/emulators/clients.ts';
import { startS3Emulator, type S3Emulator, type S3EmulatorOptions } from '../../local/emulators/s3-emulator.ts';

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
