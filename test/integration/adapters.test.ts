import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbOffsetLedger } from '../../lib/aws/dynamodb-ledger.ts';
import { S3ObjectStore } from '../../lib/aws/s3-object-store.ts';
import { LedgerConflictError, ObjectExistsError } from '../../lib/core/errors.ts';
import type { LedgerEntry } from '../../lib/core/ports.ts';
import { createTestLedgerTable, type LedgerTableForTest, type S3ForTest, startS3ForTest } from '../support/emulators.ts';

const entry = (committedOffset: number, generation = 0): LedgerEntry => ({
  topic: 'orders.v1',
  partition: 7,
  generation,
  committedOffset,
  lastObjectKey: `key-${committedOffset}`,
  lastRecordCount: 3,
  updatedAt: '2026-11-26T00:00:00.000Z',
});

describe('DynamoDbOffsetLedger on DynamoDB Local', () => {
  let table: LedgerTableForTest;
  let ledger: DynamoDbOffsetLedger;
  beforeAll(async () => {
    table = await createTestLedgerTable('adapter');
    ledger = new DynamoDbOffsetLedger({ client: table.client, tableName: table.tableName });
  });

  it('reads nothing for a new partition, then creates the entry only if it is still absent', async () => {
    expect(await ledger.read('orders.v1', 7)).toBeUndefined();
    await ledger.advance(undefined, entry(10));
    expect(await ledger.read('orders.v1', 7)).toEqual(entry(10));
    await expect(ledger.advance(undefined, entry(20))).rejects.toThrow(LedgerConflictError);
  });

  it('moves forward only from the position read, never back, never across generations', async () => {
    await ledger.advance({ generation: 0, committedOffset: 10 }, entry(15));
    // A writer that read 10 and wants 12: the ledger is at 15 already.
    await expect(ledger.advance({ generation: 0, committedOffset: 10 }, entry(12))).rejects.toThrow(LedgerConflictError);
    // The same offset again (the SDK's retry of a write that landed): refused, not rewritten.
    await expect(ledger.advance({ generation: 0, committedOffset: 15 }, entry(15))).rejects.toThrow(LedgerConflictError);
    // A writer of another generation.
    await expect(ledger.advance({ generation: 1, committedOffset: 15 }, entry(30, 1))).rejects.toThrow(LedgerConflictError);
    await ledger.advance({ generation: 0, committedOffset: 15 }, entry(40));
    expect((await ledger.read('orders.v1', 7))?.committedOffset).toBe(40);
  });

  it('keeps partitions and topics apart', async () => {
    await ledger.advance(undefined, { ...entry(5), partition: 8 });
    await ledger.advance(undefined, { ...entry(6), topic: 'orders.v2' });
    expect((await ledger.read('orders.v1', 8))?.committedOffset).toBe(5);
    expect((await ledger.read('orders.v2', 7))?.committedOffset).toBe(6);
    expect((await ledger.read('orders.v1', 7))?.committedOffset).toBe(40);
  });
});

describe('S3ObjectStore on the S3 emulator', () => {
  let s3: S3ForTest;
  let store: S3ObjectStore;
  beforeAll(async () => {
    s3 = await startS3ForTest();
    store = new S3ObjectStore({ client: s3.client, bucket: s3.bucket });
  });
  afterAll(async () => s3?.stop());

  const object = (key: string, body = 'one\n') => ({
    key,
    body: Buffer.from(body),
    contentType: 'application/x-ndjson',
    metadata: { 'first-offset': '1', 'last-offset': '9' },
  });

  it('creates an object once; the second creation of the key is ObjectExistsError', async () => {
    await store.putIfAbsent(object('a/b+0+1.jsonl'));
    const error = await store.putIfAbsent(object('a/b+0+1.jsonl', 'two\n')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ObjectExistsError);
    expect((error as ObjectExistsError).key).toBe('a/b+0+1.jsonl');
    expect(await store.head('a/b+0+1.jsonl')).toEqual({
      key: 'a/b+0+1.jsonl',
      size: 4,
      metadata: { 'first-offset': '1', 'last-offset': '9' },
    });
  });

  it('heads a missing key as undefined', async () => {
    expect(await store.head('nothing/here')).toBeUndefined();
  });

  it('retries 409 ConditionalRequestConflict, then reports the outcome of the retry', async () => {
    // The emulator answers 409 only while another conditional upload is streaming: too timing-bound
    // for a unit check, so a client that answers 409 twice stands in for S3 here.
    let calls = 0;
    const conflict = Object.assign(new Error('ConditionalRequestConflict'), { $metadata: { httpStatusCode: 409 } });
    const client = {
      send: async () => {
        calls += 1;
        if (calls <= 2) throw conflict;
        return {};
      },
    } as unknown as S3Client;
    const waits: number[] = [];
    const flaky = new S3ObjectStore({ client, bucket: 'b', sleep: async (ms) => void waits.push(ms) });
    await flaky.putIfAbsent(object('k'));
    expect(calls).toBe(3);
    expect(waits).toHaveLength(2);
    // A 409 that never clears surfaces after the retries run out.
    const stuck = new S3ObjectStore({
      client: { send: async () => Promise.reject(conflict) } as unknown as S3Client,
      bucket: 'b',
      sleep: async () => undefined,
    });
    await expect(stuck.putIfAbsent(object('k'))).rejects.toBe(conflict);
  });
});
