/**
 * The operations command line's SDK clients (lib/ops/cli.ts). Apart from lib/aws/clients.ts so that
 * the sink's Lambda bundle never loads the Lambda client.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';

export type { DynamoDBClient, LambdaClient, S3Client };

/** Where an operations client connects: the region, and an emulator's endpoint when one is set. */
export interface ClientTarget {
  readonly region: string | undefined;
  readonly endpoint: string | undefined;
}

/** The operations command line's S3 client (path-style with an endpoint, as the emulators need). */
export function createS3Client(target: ClientTarget): S3Client {
  return new S3Client({ region: target.region, ...(target.endpoint ? { endpoint: target.endpoint, forcePathStyle: true } : {}) });
}

/** The operations command line's DynamoDB client. */
export function createDynamoDbClient(target: ClientTarget): DynamoDBClient {
  return new DynamoDBClient({ region: target.region, ...(target.endpoint ? { endpoint: target.endpoint } : {}) });
}

/** The operations command line's Lambda client (event source mappings). */
export function createLambdaClient(target: ClientTarget): LambdaClient {
  return new LambdaClient({ region: target.region, ...(target.endpoint ? { endpoint: target.endpoint } : {}) });
}
