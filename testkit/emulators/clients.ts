/**
 * SDK clients for the local emulators: region us-east-1, fixed fake credentials, path-style S3.
 * Nothing here can reach real AWS: every client is bound to the endpoint it is given.
 */
import { CreateTableCommand, DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { ledgerTableDefinition } from '../../lib/ledger/table.ts';

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/** An S3 client for the local S3 emulator (default SDK checksum settings). */
export function localS3Client(endpoint: string, overrides: { maxAttempts?: number } = {}): S3Client {
  return new S3Client({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
    ...overrides,
  });
}

/** A DynamoDB client for DynamoDB Local (or the fault proxy in front of it). */
export function localDynamoDbClient(endpoint: string, overrides: { maxAttempts?: number } = {}): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    ...overrides,
  });
}

/** Creates the offset ledger table from `ledgerTableDefinition` (on demand) and waits until it is ACTIVE. */
export async function createLedgerTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      KeySchema: ledgerTableDefinition.KeySchema.map((k) => ({ ...k })),
      AttributeDefinitions: ledgerTableDefinition.AttributeDefinitions.map((a) => ({ ...a })),
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { TableName: tableName });
}
