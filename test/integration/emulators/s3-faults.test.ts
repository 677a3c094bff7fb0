/**
 * The S3 emulator's fault hook (as the SDK's retries see it) and its on-disk persistence.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localS3Client } from '../../../testkit/emulators/clients.ts';
import { startS3Emulator, type S3Fault, type S3FaultHook } from '../../../testkit/emulators/s3-emulator.ts';
import { startS3ForTest, type S3ForTest } from '../../support/emulators.ts';
import { caught } from '../../support/s3-caught.ts';

/** Injects `fault` into the first `times` requests of `operation`. */
function firstN(operation: string, times: number, fault: S3Fault): S3FaultHook {
  let left = times;
  return (req) => {
    if (req.operation !== operation || left <= 0) return undefined;
    left--;
    return fault;
  };
}

describe('fault hook', () => {
  let s3: S3ForTest;
  beforeAll(async () => {
    s3 = await startS3ForTest();
  });
  afterAll(async () => {
    await s3.stop();
  });

  it('tells the hook the operation, bucket, key and method', async () => {
    const seen: unknown[] = [];
    s3.emulator.setFaults((req) => {
      seen.push(req);
      return undefined;
    });
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'hook/a', Body: 'a' }));
    await caught(s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: 'hook/none' })));
    await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'hook/' }));
    s3.emulator.setFaults(undefined);
    expect(seen).toEqual([
      { operation: 'PutObject', bucket: s3.bucket, key: 'hook/a', method: 'PUT' },
      { operation: 'HeadObject', bucket: s3.bucket, key: 'hook/none', method: 'HEAD' },
      { operation: 'ListObjectsV2', bucket: s3.bucket, method: 'GET' },
    ]);
  });

  it('503 SlowDown is retried by the SDK, which then succeeds', async () => {
    s3.emulator.resetCounters();
    s3.emulator.setFaults(firstN('PutObject', 2, { kind: 'error', status: 503, code: 'SlowDown' }));
    const out = await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'slow/a', Body: 'a', IfNoneMatch: '*' }));
    s3.emulator.setFaults(undefined);
    expect(out.$metadata.attempts).toBe(3);
    expect(s3.emulator.requestCount('PutObject')).toBe(3);
    const got = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'slow/a' }));
    expect(await got.Body!.transformToString()).toBe('a');
  });

  it('a SlowDown that persists surfaces after the SDK runs out of attempts', async () => {
    s3.emulator.resetCounters();
    s3.emulator.setFaults(firstN('PutObject', 10, { kind: 'error', status: 503, code: 'SlowDown' }));
    const err = await caught(s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'slow/b', Body: 'b' })));
    s3.emulator.setFaults(undefined);
    expect(err.name).toBe('SlowDown');
    expect(err.$metadata.httpStatusCode).toBe(503);
    expect(err.$metadata.attempts).toBe(3);
    expect(s3.emulator.requestCount('PutObject')).toBe(3);
    // The write never happened.
    expect((await caught(s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: 'slow/b' })))).name).toBe('NotFound');
  });

  it('500 InternalError is retried by the SDK', async () => {
    s3.emulator.setFaults(firstN('HeadObject', 1, { kind: 'error', status: 500, code: 'InternalError' }));
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'ie/a', Body: 'a' }));
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: 'ie/a' }));
    s3.emulator.setFaults(undefined);
    expect(head.$metadata.attempts).toBe(2);
  });

  it('a lost reply to a conditional PutObject: the write landed, and the SDK retry gets 412', async () => {
    s3.emulator.resetCounters();
    s3.emulator.setFaults(firstN('PutObject', 1, { kind: 'lost-reply' }));
    const err = await caught(
      s3.client.send(
        new PutObjectCommand({ Bucket: s3.bucket, Key: 'lost/a', Body: 'mine', IfNoneMatch: '*', Metadata: { 'last-offset': '9' } }),
      ),
    );
    s3.emulator.setFaults(undefined);
    expect(err.name).toBe('PreconditionFailed');
    expect(err.$metadata.httpStatusCode).toBe(412);
    expect(err.$metadata.attempts).toBe(2);
    expect(s3.emulator.requestCount('PutObject')).toBe(2);
    // The object is the caller's own: it must read it to find out.
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: 'lost/a' }));
    expect(head.Metadata).toEqual({ 'last-offset': '9' });
  });

  it('a lost reply to an unconditional PutObject: the SDK retry overwrites and succeeds', async () => {
    s3.emulator.setFaults(firstN('PutObject', 1, { kind: 'lost-reply' }));
    const out = await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'lost/b', Body: 'b' }));
    s3.emulator.setFaults(undefined);
    expect(out.$metadata.attempts).toBe(2);
  });

  it('counts requests per operation', async () => {
    s3.emulator.resetCounters();
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'count/a', Body: 'a' }));
    await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: 'count/a' }));
    await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'count/a' })).then((o) => o.Body!.transformToString());
    expect(s3.emulator.counters).toEqual({ PutObject: 1, HeadObject: 1, GetObject: 1 });
    expect(s3.emulator.requestCount()).toBe(3);
  });
});

describe('persistence with dataDir', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 's3-emulator-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps buckets, objects and metadata across a restart', async () => {
    const first = await startS3ForTest({ dataDir: dir, bucket: 'persisted' });
    const body = Buffer.from([0, 1, 2, 250, 251, 252, 13, 10]);
    await first.client.send(
      new PutObjectCommand({
        Bucket: 'persisted',
        Key: 'a/b c/ü.bin',
        Body: body,
        ContentType: 'application/x-test',
        Metadata: { 'last-offset': '7' },
      }),
    );
    await first.client.send(new PutObjectCommand({ Bucket: 'persisted', Key: 'a/over', Body: 'v1' }));
    await first.client.send(new PutObjectCommand({ Bucket: 'persisted', Key: 'a/over', Body: 'v2' }));
    await first.client.send(new PutObjectCommand({ Bucket: 'persisted', Key: 'a/gone', Body: 'x' }));
    await first.client.send(new DeleteObjectCommand({ Bucket: 'persisted', Key: 'a/gone' }));
    await first.stop();

    const second = await startS3Emulator({ dataDir: dir });
    const client = localS3Client(second.endpoint);
    try {
      await client.send(new HeadBucketCommand({ Bucket: 'persisted' }));
      const got = await client.send(new GetObjectCommand({ Bucket: 'persisted', Key: 'a/b c/ü.bin' }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
      expect(got.ContentType).toBe('application/x-test');
      expect(got.Metadata).toEqual({ 'last-offset': '7' });
      const over = await client.send(new GetObjectCommand({ Bucket: 'persisted', Key: 'a/over' }));
      expect(await over.Body!.transformToString()).toBe('v2');
      const list = await client.send(new ListObjectsV2Command({ Bucket: 'persisted' }));
      expect(list.Contents?.map((c) => c.Key)).toEqual(['a/b c/ü.bin', 'a/over']);
      const err = await caught(client.send(new PutObjectCommand({ Bucket: 'persisted', Key: 'a/over', Body: 'v3', IfNoneMatch: '*' })));
      expect(err.$metadata.httpStatusCode).toBe(412);
    } finally {
      client.destroy();
      await second.stop();
    }
  });
});
