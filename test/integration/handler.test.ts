import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { captureOutput } from '../support/capture-output.ts';
import { lambdaContext } from '../../testkit/lambda-context.ts';
import { createTestLedgerTable, type LedgerTableForTest, type S3ForTest, startS3ForTest } from '../support/emulators.ts';

/**
 * The deployed entry point, `functions/msk-sink/handler.ts`, driven as Lambda drives it:
 * configuration from the environment at cold start, the sample events as AWS sends them,
 * real emulators behind the AWS endpoint variables.
 */
describe('handler (functions/msk-sink/handler.ts) on the emulators', () => {
  let s3: S3ForTest;
  let ledger: LedgerTableForTest;
  let handler: (event: unknown, context: Context) => Promise<unknown>;
  type Handler = typeof import('../../functions/msk-sink/handler.ts')['handler'];
  let output: string[] = [];
  const context = lambdaContext('msk-s3-sink');
  const event = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/events/${name}`, import.meta.url), 'utf8'));

  beforeAll(async () => {
    s3 = await startS3ForTest();
    ledger = await createTestLedgerTable('handler');
    vi.stubEnv('SINK_BUCKET', s3.bucket);
    vi.stubEnv('LEDGER_TABLE', ledger.tableName);
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ENDPOINT_URL_S3', s3.endpoint);
    vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', ledger.endpoint);
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
    output = captureOutput();
    const deployed: Handler = (await import('../../functions/msk-sink/handler.ts')).handler;
    handler = (event, lambdaContext) => deployed(event as Parameters<Handler>[0], lambdaContext);
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
    await s3?.stop();
  });

  const keys = async () =>
    ((await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket }))).Contents ?? []).map((object) => object.Key!);

  it('delivers the MSK sample event: one object per partition, the ledger at each last offset', async () => {
    await expect(handler(event('msk.json'), context)).resolves.toEqual({ batchItemFailures: [] });
    expect(await keys()).toEqual([
      'topics/clicks/partition=1/clicks+1+00000000000000001200.jsonl.gz',
      'topics/orders/partition=0/orders+0+00000000000000000041.jsonl.gz',
      'topics/orders/partition=2/orders+2+00000000000000000007.jsonl.gz',
    ]);
    const object = await s3.client.send(
      new GetObjectCommand({ Bucket: s3.bucket, Key: 'topics/clicks/partition=1/clicks+1+00000000000000001200.jsonl.gz' }),
    );
    const lines = gunzipSync(await object.Body!.transformToByteArray())
      .toString('utf8')
      .trimEnd()
      .split('\n');
    expect(lines).toEqual([
      '{"topic":"clicks","partition":1,"offset":1200,"timestamp":1764115202000,"timestampType":"CREATE_TIME","key":"session-9","value":{"page":"/checkout","ms":312},"headers":[]}',
      '{"topic":"clicks","partition":1,"offset":1201,"timestamp":1764115202500,"timestampType":"CREATE_TIME","key":"session-9","value":"not json: plain text value","headers":[]}',
    ]);
    expect(object.Metadata).toMatchObject({ 'first-offset': '1200', 'last-offset': '1201', 'record-count': '2' });
    const item = await ledger.client.send(
      new GetItemCommand({ TableName: ledger.tableName, Key: { topic: { S: 'orders' }, partition: { N: '0' } } }),
    );
    expect(item.Item).toMatchObject({
      committedOffset: { N: '43' },
      generation: { N: '0' },
      lastObjectKey: { S: 'topics/orders/partition=0/orders+0+00000000000000000041.jsonl.gz' },
      lastRecordCount: { N: '3' },
    });
  });

  it('does nothing new when the same event comes again', async () => {
    s3.emulator.resetCounters();
    await handler(event('msk.json'), context);
    expect(s3.emulator.requestCount('PutObject')).toBe(0);
    expect(await keys()).toHaveLength(3);
  });

  it('delivers the self-managed sample event', async () => {
    await handler(event('self-managed.json'), context);
    expect(await keys()).toContain('topics/payments/partition=0/payments+0+00000000000000000000.jsonl.gz');
  });

  it('rejects a malformed event with a typed error naming the field, writing nothing', async () => {
    const bad = event('msk.json');
    bad.records['orders-0'][1].value = 'not base64!';
    s3.emulator.resetCounters();
    await expect(handler(bad, context)).rejects.toMatchObject({
      name: 'MalformedEventError',
      message: expect.stringContaining('records["orders-0"][1].value'),
    });
    expect(s3.emulator.requestCount()).toBe(0);
  });

  it('emits structured logs and EMF metrics without record values', async () => {
    const text = output.join('\n');
    expect(text).toContain('"RecordsDelivered"');
    expect(text).toContain('"_aws"');
    expect(text).toContain('Partition delivered');
    expect(text).not.toContain('/checkout');
    expect(text).not.toContain('plain text value');
  });
});
