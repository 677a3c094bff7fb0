/**
 * Vitest global setup: one DynamoDB Local for the whole run, in memory and with a shared database,
 * so that every test file (in any worker) sees the same tables. Tests read its endpoint with
 * `inject('dynamoEndpoint')` and create uniquely named tables, so files can run in parallel.
 */
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../../local/emulators/dynamodb-local.ts';

declare module 'vitest' {
  interface ProvidedContext {
    /** DynamoDB Local's endpoint for this test run, e.g. `http://127.0.0.1:41234`. */
    dynamoEndpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // A loaded machine (parallel test runs, a busy CI) can take far longer than the usual 3 s.
  const dynamo = await startDynamoDbLocal({ startTimeoutMs: 180_000 });
  project.provide('dynamoEndpoint', dynamo.endpoint);
  return async () => {
    await dynamo.stop();
  };
}
