import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { SinkConfig } from '../config/config.ts';

/** How long one attempt of a request may take before the SDK abandons it and retries (ms). */
export interface ClientTimeouts {
  /** Establishing the connection (TCP and TLS). */
  readonly connectionMs: number;
  /** The whole request and response of one DynamoDB attempt (small items). */
  readonly dynamoDbRequestMs: number;
  /** The whole request and response of one S3 attempt (a PUT of up to one batch's object). */
  readonly s3RequestMs: number;
}

/**
 * The defaults: a few times a slow in-region round trip, far below the function's timeout, so
 * that a hung connection costs one attempt (retried with backoff) instead of the invocation.
 */
export const DEFAULT_CLIENT_TIMEOUTS: ClientTimeouts = { connectionMs: 3_000, dynamoDbRequestMs: 5_000, s3RequestMs: 30_000 };

/**
 * The SDK clients for a configuration. With an endpoint set (local emulators) S3 is addressed
 * path-style; otherwise the SDK's defaults apply (region and credentials from the environment).
 * Retries of throttling, 5xx and timed-out attempts are the SDK's standard retry strategy.
 */
export function createAwsClients(
  aws: SinkConfig['aws'],
  timeouts: ClientTimeouts = DEFAULT_CLIENT_TIMEOUTS,
): { s3: S3Client; dynamoDb: DynamoDBClient } {
  const region = aws.region;
  // Without throwOnRequestTimeout the SDK only logs a warning when requestTimeout passes.
  const handler = (requestTimeout: number) => ({ connectionTimeout: timeouts.connectionMs, requestTimeout, throwOnRequestTimeout: true });
  return {
    s3: new S3Client({
      ...(region ? { region } : {}),
      ...(aws.s3Endpoint ? { endpoint: aws.s3Endpoint, forcePathStyle: true } : {}),
      retryMode: 'standard',
      maxAttempts: 5,
      requestHandler: handler(timeouts.s3RequestMs),
    }),
    dynamoDb: new DynamoDBClient({
      ...(region ? { region } : {}),
      ...(aws.dynamoDbEndpoint ? { endpoint: aws.dynamoDbEndpoint } : {}),
      retryMode: 'standard',
      maxAttempts: 5,
      requestHandler: handler(timeouts.dynamoDbRequestMs),
    }),
  };
}
