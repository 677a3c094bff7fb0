import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../testkit/emulators/clients.ts';
import { type FaultProxy, startFaultProxy } from '../../testkit/emulators/fault-proxy.ts';
import type { ChaosWorld, Scenario } from '../support/chaos.ts';
import { runAll, violations } from '../support/chaos-world.ts';
import { createTestLedgerTable, type S3ForTest, startS3ForTest } from '../support/emulators.ts';

/**
 * Throttling and 5xx from both services, at the HTTP level: S3 answers 503 SlowDown or 500, or
 * loses the reply to a PUT that landed (so the SDK's retry meets 412); DynamoDB answers
 * ProvisionedThroughputExceeded, Throttling or 500, or loses the reply to a write that landed.
 * The SDK's own retries (with short test backoffs) take most; the rest fail the invocation and
 * the simulated mapping delivers the batch again.
 */
describe('chaos: throttling and 5xx from S3 and DynamoDB', () => {
  let s3: S3ForTest;
  let proxy: FaultProxy;
  let world: ChaosWorld;
  let s3Faults = 0;
  let dynamoFaults = 0;

  beforeAll(async () => {
    s3 = await startS3ForTest();
    const ledger = await createTestLedgerTable('faults');
    proxy = await startFaultProxy({ target: ledger.endpoint });
    const retryStrategy = new ConfiguredRetryStrategy(3, (attempt) => 5 * attempt);
    const local = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, retryStrategy };
    const sinkS3 = new S3Client({ ...local, endpoint: s3.endpoint, forcePathStyle: true });
    const sinkDynamo = new DynamoDBClient({ ...local, endpoint: proxy.endpoint });
    world = { s3: sinkS3, bucket: s3.bucket, dynamoDb: sinkDynamo, table: ledger.tableName };
    // The read-back (List/Get) is left alone; every operation the sink uses may fail.
    let random = 0x9e3779b9;
    const next = () => (random = (Math.imul(random ^ (random >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;
    s3.emulator.setFaults(({ operation }) => {
      if (operation !== 'PutObject' && operation !== 'HeadObject') return undefined;
      const roll = next();
      if (roll > 0.2) return undefined;
      s3Faults += 1;
      if (roll < 0.07) return { kind: 'error', status: 503, code: 'SlowDown' };
      if (roll < 0.13) return { kind: 'error', status: 500, code: 'InternalError' };
      return operation === 'PutObject' ? { kind: 'lost-reply' } : { kind: 'error', status: 500, code: 'InternalError' };
    });
    proxy.setFaults(({ operation }) => {
      if (operation !== 'GetItem' && operation !== 'UpdateItem') return undefined;
      const roll = next();
      if (roll > 0.2) return undefined;
      dynamoFaults += 1;
      if (roll < 0.05) return { kind: 'error', status: 400, code: 'ProvisionedThroughputExceededException' };
      if (roll < 0.1) return { kind: 'error', status: 400, code: 'ThrottlingException' };
      if (roll < 0.15) return { kind: 'error', status: 500, code: 'InternalServerError' };
      return operation === 'UpdateItem' ? { kind: 'lost-reply' } : { kind: 'error', status: 500, code: 'InternalServerError' };
    });
  });

  afterAll(async () => {
    await proxy?.stop();
    await s3?.stop();
  });

  it('delivers every record exactly once through 40 schedules of service faults', async () => {
    const scenarios = Array.from(
      { length: 40 },
      (_, index): Scenario => ({
        name: `faults-${index}`,
        seed: 90_000 + index,
        partitions: 2,
        records: 30,
        maxBatch: 10,
        concurrency: 1 + (index % 2),
        ...(index % 4 === 0 ? { env: { SINK_REPORT_BATCH_ITEM_FAILURES: 'true' } } : {}),
      }),
    );
    const results = await runAll(world, scenarios);
    expect(violations(results)).toEqual([]);
    expect(s3Faults).toBeGreaterThan(50);
    expect(dynamoFaults).toBeGreaterThan(50);
    console.info(
      `service-fault schedules: ${scenarios.length}; S3 faults ${s3Faults}, DynamoDB faults ${dynamoFaults}; ` +
        `failed invocations ${results.reduce((n, r) => n + r.result.failures, 0)}`,
    );
  });
});
