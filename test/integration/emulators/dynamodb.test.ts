/**
 * DynamoDB Local (started once by the global setup) and the fault proxy in front of it.
 */
import {
  ConditionalCheckFailedException,
  DescribeTableCommand,
  DynamoDBServiceException,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { localDynamoDbClient } from '../../../testkit/emulators/clients.ts';
import { startFaultProxy, type DynamoFault, type DynamoFaultHook, type FaultProxy } from '../../../testkit/emulators/fault-proxy.ts';
import { createTestLedgerTable, type LedgerTableForTest } from '../../support/emulators.ts';

async function caught(p: Promise<unknown>): Promise<DynamoDBServiceException> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DynamoDBServiceException);
    return err as DynamoDBServiceException;
  }
  throw new Error('expected the request to fail');
}

function firstN(operation: string, times: number, fault: DynamoFault): DynamoFaultHook {
  let left = times;
  return (req) => {
    if (req.operation !== operation || left <= 0) return undefined;
    left--;
    return fault;
  };
}

const key = (topic: string, partition: number) => ({ topic: { S: topic }, partition: { N: String(partition) } });

let table: LedgerTableForTest;
beforeAll(async () => {
  table = await createTestLedgerTable();
});
afterAll(() => {
  table.client.destroy();
});

describe('DynamoDB Local', () => {
  it('is provided to tests and holds a ledger table built from ledgerTableDefinition', async () => {
    expect(inject('dynamoEndpoint')).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const d = await table.client.send(new DescribeTableCommand({ TableName: table.tableName }));
    expect(d.Table?.TableStatus).toBe('ACTIVE');
    expect(d.Table?.KeySchema).toEqual([
      { AttributeName: 'topic', KeyType: 'HASH' },
      { AttributeName: 'partition', KeyType: 'RANGE' },
    ]);
    expect(d.Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
  });

  it('shares one database whatever the credentials and region (sharedDb)', async () => {
    const other = localDynamoDbClient(table.endpoint);
    try {
      const { DynamoDBClient: Client } = await import('@aws-sdk/client-dynamodb');
      const elsewhere = new Client({
        endpoint: table.endpoint,
        region: 'eu-west-1',
        credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      });
      const d = await elsewhere.send(new DescribeTableCommand({ TableName: table.tableName }));
      elsewhere.destroy();
      expect(d.Table?.TableName).toBe(table.tableName);
    } finally {
      other.destroy();
    }
  });

  it('answers a failed conditional PutItem with ConditionalCheckFailedException (and the old item on request)', async () => {
    const item = { ...key('orders.v1_x-y', 0), committedOffset: { N: '10' } };
    await table.client.send(
      new PutItemCommand({ TableName: table.tableName, Item: item, ConditionExpression: 'attribute_not_exists(topic)' }),
    );
    const err = await caught(
      table.client.send(
        new PutItemCommand({
          TableName: table.tableName,
          Item: { ...item, committedOffset: { N: '20' } },
          ConditionExpression: 'attribute_not_exists(topic)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    expect(err).toBeInstanceOf(ConditionalCheckFailedException);
    expect(err.name).toBe('ConditionalCheckFailedException');
    expect(err.$metadata.httpStatusCode).toBe(400);
    expect((err as ConditionalCheckFailedException).Item?.['committedOffset']).toEqual({ N: '10' });
  });

  it('supports TransactWriteItems with conditions', async () => {
    const err = await table.client
      .send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName: table.tableName, Item: { ...key('tx', 1), v: { N: '1' } } } },
            { ConditionCheck: { TableName: table.tableName, Key: key('tx', 2), ConditionExpression: 'attribute_exists(topic)' } },
          ],
        }),
      )
      .catch((e: unknown) => e);
    expect((err as Error).name).toBe('TransactionCanceledException');
    const got = await table.client.send(new GetItemCommand({ TableName: table.tableName, Key: key('tx', 1), ConsistentRead: true }));
    expect(got.Item).toBeUndefined();
  });
});

describe('fault proxy', () => {
  let proxy: FaultProxy;
  let client: DynamoDBClient;
  beforeAll(async () => {
    proxy = await startFaultProxy({ target: table.endpoint });
    client = localDynamoDbClient(proxy.endpoint);
  });
  afterAll(async () => {
    client.destroy();
    await proxy.stop();
  });

  const bump = (partition: number, to: number) =>
    new UpdateItemCommand({
      TableName: table.tableName,
      Key: key('proxy', partition),
      UpdateExpression: 'SET committedOffset = :to',
      ConditionExpression: 'attribute_not_exists(committedOffset) OR committedOffset < :to',
      ExpressionAttributeValues: { ':to': { N: String(to) } },
    });

  const read = async (partition: number) =>
    (await table.client.send(new GetItemCommand({ TableName: table.tableName, Key: key('proxy', partition), ConsistentRead: true }))).Item;

  it('passes requests through and names operations from X-Amz-Target', async () => {
    await client.send(bump(0, 1));
    expect(proxy.requestCount('UpdateItem')).toBe(1);
    expect(await read(0)).toMatchObject({ committedOffset: { N: '1' } });
  });

  it.each([
    { partition: 10, fault: { kind: 'error', status: 400, code: 'ThrottlingException' } },
    { partition: 11, fault: { kind: 'error', status: 400, code: 'ProvisionedThroughputExceededException' } },
    { partition: 12, fault: { kind: 'error', status: 500, code: 'InternalServerError' } },
  ] as const)('$fault.code is retried by the SDK', async ({ partition, fault }) => {
    proxy.setFaults(firstN('UpdateItem', 2, fault));
    const out = await client.send(bump(partition, 5));
    proxy.setFaults(undefined);
    expect(out.$metadata.attempts).toBe(3);
    expect(await read(partition)).toMatchObject({ committedOffset: { N: '5' } });
  });

  it('answers with the DynamoDB JSON error shape', async () => {
    proxy.setFaults(() => ({ kind: 'error', status: 400, code: 'ThrottlingException' }));
    const res = await fetch(proxy.endpoint, {
      method: 'POST',
      headers: { 'x-amz-target': 'DynamoDB_20120810.GetItem', 'content-type': 'application/x-amz-json-1.0' },
      body: '{}',
    });
    proxy.setFaults(undefined);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/x-amz-json-1.0');
    expect(await res.json()).toEqual({
      __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException',
      message: expect.any(String),
    });
  });

  it('a persistent throttle surfaces after the SDK runs out of attempts, and nothing is written', async () => {
    proxy.setFaults(firstN('UpdateItem', 100, { kind: 'error', status: 400, code: 'ProvisionedThroughputExceededException' }));
    const before = proxy.requestCount('UpdateItem');
    const err = await caught(client.send(bump(3, 1)));
    proxy.setFaults(undefined);
    expect(err.name).toBe('ProvisionedThroughputExceededException');
    // The DynamoDB client's default is 4 attempts (S3's is 3).
    expect(err.$metadata.attempts).toBe(4);
    expect(proxy.requestCount('UpdateItem') - before).toBe(4);
    expect(await read(3)).toBeUndefined();
  });

  it('a lost reply lands the write; the SDK retry of a conditional write then fails its condition', async () => {
    proxy.setFaults(firstN('UpdateItem', 1, { kind: 'lost-reply' }));
    const err = await caught(client.send(bump(4, 7)));
    proxy.setFaults(undefined);
    expect(err).toBeInstanceOf(ConditionalCheckFailedException);
    expect(err.$metadata.attempts).toBe(2);
    expect(await read(4)).toMatchObject({ committedOffset: { N: '7' } });
  });

  it('a lost reply to an unconditional write: it lands and the retry succeeds', async () => {
    proxy.setFaults(firstN('PutItem', 1, { kind: 'lost-reply' }));
    const out = await client.send(
      new PutItemCommand({ TableName: table.tableName, Item: { ...key('proxy', 5), committedOffset: { N: '1' } } }),
    );
    proxy.setFaults(undefined);
    expect(out.$metadata.attempts).toBe(2);
    expect(await read(5)).toMatchObject({ committedOffset: { N: '1' } });
  });
});
