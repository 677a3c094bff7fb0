import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { SinkConfig } from '../config.ts';

/**
 * The SDK clients for a configuration. With an endpoint set (local emulators) S3 is addressed
 * path-style; otherwise the SDK's defaults apply (region and credentials from the environment).
 * Retries of throttling and 5xx are the SDK's standard retry strategy.
 */
export function createAwsClients(aws: SinkConfig['aws']): { s3: S3Client; dynamoDb: DynamoDBClient } {
  const region = aws.region;
  return {
    s3: new S3Client({
      ...(region ? { region } : {}),
      ...(aws.s3Endpoint ? { endpoint: aws.s3Endpoint, forcePathStyle: true } : {}),
      retryMode: 'standard',
      maxAttempts: 5,
    }),
    dynamoDb: new DynamoDBClient({
      ...(region ? { region } : {}),
      ...(aws.dynamoDbEndpoint ? { endpoint: aws.dynamoDbEndpoint } : {}),
      retryMode: 'standard',
      maxAttempts: 5,
    }),
  };
}
