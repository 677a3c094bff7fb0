/**
 * The S3 API cases of the object store contract (`object-store-contract.ts`): what the S3 adapters
 * (`S3ObjectStore`, `S3ManifestStateStore`, `S3Inventory`, prune's DeleteObjects) rely on from S3,
 * registered for every implementation that declares `StoreCapability.s3Api`. A case whose
 * behaviour an implementation departs from is named by `caseName` (which says what S3 documents,
 * and where) and pins that implementation's actual behaviour.
 */
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3ServiceException,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { S3ManifestStateStore } from '../../lib/aws/manifest-state-s3.ts';
import { S3Inventory } from '../../lib/aws/s3-inventory.ts';
import { S3ObjectStore } from '../../lib/aws/s3-object-store.ts';
import { ObjectExistsError } from '../../lib/core/errors.ts';
import { localS3Client } from '../../testkit/emulators/clients.ts';
import type { S3Api, StoreDeviation } from './object-store-contract.ts';
import { caught } from './s3-caught.ts';

/** What the S3 API cases are given by the contract that registers them. */
export interface S3ApiCaseContext {
  /** The S3 API under test (available once the contract's `beforeAll` has run). */
  s3(): S3Api;
  /** Whether the implementation declares `deviation`. */
  deviates(deviation: StoreDeviation): boolean;
  /** The case's name: `conforming` as S3 documents it, or `deviating` with what S3 documents instead. */
  caseName(deviation: StoreDeviation, conforming: string, deviating: string): string;
}

/**
 * A request by hand, for headers the SDK would not send. Neither server checks signatures, but moto
 * treats a request with no Authorization header as anonymous (403 on a private object), so it
 * carries a well-formed one with a dummy signature.
 */
const AUTHORIZATION = 'AWS4-HMAC-SHA256 Credential=local/20261126/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00';
function raw(
  endpoint: string,
  method: string,
  path: string,
  headers: Record<string, string | number>,
  body?: string,
): Promise<{ status: number; body: string }> {
  const url = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method, path, headers: { authorization: AUTHORIZATION, ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Registers the S3 API cases (call inside a describe block whose `beforeAll` starts the S3 API). */
export function s3ApiCases(c: S3ApiCaseContext): void {
  const body = (text: string) => new TextEncoder().encode(text);
  const bytesOf = async (key: string) => {
    const t = c.s3();
    const out = await t.client.send(new GetObjectCommand({ Bucket: t.bucket, Key: key }));
    return Buffer.from(await out.Body!.transformToByteArray()).toString();
  };

  it("putIfAbsent's ObjectExistsError carries S3's 412 PreconditionFailed as its cause", async () => {
    const t = c.s3();
    const store = new S3ObjectStore({ client: t.client, bucket: t.bucket });
    await store.putIfAbsent({ key: 'cond/cause', body: body('first'), contentType: 'text/plain', metadata: {} });
    const second = await store
      .putIfAbsent({ key: 'cond/cause', body: body('second'), contentType: 'text/plain', metadata: {} })
      .catch((e: Error) => e);
    expect(second).toBeInstanceOf(ObjectExistsError);
    const cause = (second as Error).cause as S3ServiceException;
    expect(cause.$metadata.httpStatusCode).toBe(412);
    expect(cause.name).toBe('PreconditionFailed');
  });

  it('the manifest state save: If-None-Match when new, If-Match with the ETag read; a stale ETag loses', async () => {
    const t = c.s3();
    const state = new S3ManifestStateStore({ client: t.client, bucket: t.bucket });
    const key = 'state/_manifest-state.json';
    expect(await state.load(key)).toBeUndefined();
    expect(await state.save(key, body('{"v":1}'), undefined)).toBe(true);
    // A second run that also found no state loses.
    expect(await state.save(key, body('{"v":"other"}'), undefined)).toBe(false);
    const first = await state.load(key);
    expect(Buffer.from(first!.body).toString()).toBe('{"v":1}');
    expect(await state.save(key, body('{"v":2}'), first!.etag)).toBe(true);
    // The run that read the first state saves with an ETag that no longer matches: 412.
    expect(await state.save(key, body('{"v":"stale"}'), first!.etag)).toBe(false);
    const second = await state.load(key);
    expect(Buffer.from(second!.body).toString()).toBe('{"v":2}');
    expect(second!.etag).not.toBe(first!.etag);
  });

  it('If-Match on a key that does not exist answers 404 NoSuchKey', async () => {
    // Every implementation agrees, and matches S3: PutObject (S3 API reference), If-Match: a 412
    // when the ETag does not match; the S3 User Guide, "Add preconditions to S3 operations with
    // conditional requests": a conditional write with If-Match on a key with no object fails with
    // 404 NoSuchKey (paraphrased).
    const t = c.s3();
    const err = await caught(
      t.client.send(
        new PutObjectCommand({ Bucket: t.bucket, Key: 'state/none', Body: 'x', IfMatch: '"0123456789abcdef0123456789abcdef"' }),
      ),
    );
    expect(err.$metadata.httpStatusCode).toBe(404);
    expect(err.name).toBe('NoSuchKey');
  });

  it('the inventory reads a .zst object of several frames and a .gz of several members whole (as the zstd CLI and DuckDB do)', async () => {
    // Concatenated frames/members are valid zstd/gzip; compacted objects (docs/compaction.md) are made so.
    const t = c.s3();
    const parts = ['{"offset":1}\n', '{"offset":2}\n', '{"offset":3}\n'];
    const zst = Buffer.concat(parts.map((part) => zstdCompressSync(Buffer.from(part))));
    const gz = Buffer.concat(parts.map((part) => gzipSync(Buffer.from(part))));
    await t.client.send(new PutObjectCommand({ Bucket: t.bucket, Key: 'frames/t+0+1.jsonl.zst', Body: zst }));
    await t.client.send(new PutObjectCommand({ Bucket: t.bucket, Key: 'frames/t+0+1.jsonl.gz', Body: gz }));
    const inventory = new S3Inventory({ client: t.client, bucket: t.bucket });
    expect((await inventory.read('frames/t+0+1.jsonl.zst')).toString()).toBe(parts.join(''));
    expect((await inventory.read('frames/t+0+1.jsonl.gz')).toString()).toBe(parts.join(''));
  });

  describe('listing', () => {
    const keys = ['list/a/1', 'list/a/2', 'list/a/3', 'list/a/4', 'list/a/5', 'list/b/1', 'list/c'];
    beforeAll(async () => {
      const t = c.s3();
      for (const key of keys) await t.client.send(new PutObjectCommand({ Bucket: t.bucket, Key: key, Body: key }));
    });

    it('the inventory lists a prefix in key order, and after StartAfter', async () => {
      const t = c.s3();
      const inventory = new S3Inventory({ client: t.client, bucket: t.bucket });
      const all: string[] = [];
      for await (const item of inventory.list('list/a/')) all.push(item.key);
      expect(all).toEqual(keys.slice(0, 5));
      const after: string[] = [];
      for await (const item of inventory.list('list/', 'list/a/4')) after.push(item.key);
      expect(after).toEqual(['list/a/5', 'list/b/1', 'list/c']);
    });

    it('pages with MaxKeys and continuation tokens; StartAfter applies with them', async () => {
      const t = c.s3();
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await t.client.send(
          new ListObjectsV2Command({ Bucket: t.bucket, Prefix: 'list/', MaxKeys: 2, StartAfter: 'list/a/1', ContinuationToken: token }),
        );
        pages++;
        expect(page.KeyCount).toBe(page.Contents?.length ?? 0);
        for (const item of page.Contents ?? []) seen.push(item.Key!);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
        if (page.IsTruncated) expect(token).toBeTruthy();
      } while (token);
      expect(seen).toEqual(keys.slice(1));
      expect(pages).toBe(3);
    });

    it('groups by delimiter into CommonPrefixes', async () => {
      const t = c.s3();
      const page = await t.client.send(new ListObjectsV2Command({ Bucket: t.bucket, Prefix: 'list/', Delimiter: '/' }));
      expect(page.Contents?.map((o) => o.Key)).toEqual(['list/c']);
      expect(page.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['list/a/', 'list/b/']);
      expect(page.KeyCount).toBe(3);
    });
  });

  describe('checksums', () => {
    it("accepts a PutObject with the SDK's default checksum (CRC32 header) and returns it", async () => {
      const t = c.s3();
      const out = await t.client.send(new PutObjectCommand({ Bucket: t.bucket, Key: 'sum/default', Body: 'hello checksum' }));
      expect(out.ChecksumCRC32).toBeTruthy();
      expect(await bytesOf('sum/default')).toBe('hello checksum');
    });

    it("accepts a stream body (aws-chunked with the SDK's CRC32 trailer) and stores it unframed", async () => {
      const t = c.s3();
      const data = 'streamed '.repeat(1000);
      await t.client.send(
        new PutObjectCommand({ Bucket: t.bucket, Key: 'sum/stream', Body: Readable.from([Buffer.from(data)]), ContentLength: data.length }),
      );
      expect(await bytesOf('sum/stream')).toBe(data);
    });

    it('GetObject with ChecksumMode ENABLED returns the CRC32 the PutObject answered', async () => {
      const t = c.s3();
      const put = await t.client.send(new PutObjectCommand({ Bucket: t.bucket, Key: 'sum/readback', Body: 'read me back' }));
      const got = await t.client.send(new GetObjectCommand({ Bucket: t.bucket, Key: 'sum/readback', ChecksumMode: 'ENABLED' }));
      expect(got.ChecksumCRC32).toBe(put.ChecksumCRC32);
      expect(await got.Body!.transformToString()).toBe('read me back');
    });

    it(
      c.caseName(
        'contentMd5Unchecked',
        'a body whose Content-MD5 does not match is refused with 400 BadDigest and not stored',
        'a body whose Content-MD5 does not match is stored',
      ),
      async () => {
        const t = c.s3();
        const wrongMd5 = createHash('md5').update('something else').digest('base64');
        const res = await raw(t.endpoint, 'PUT', `/${t.bucket}/sum/bad-md5`, { 'content-length': 3, 'content-md5': wrongMd5 }, 'abc');
        const head = await new S3ObjectStore({ client: t.client, bucket: t.bucket }).head('sum/bad-md5');
        if (c.deviates('contentMd5Unchecked')) {
          expect(res.status).toBe(200);
          expect(head?.size).toBe(3);
        } else {
          expect(res.status).toBe(400);
          expect(res.body).toContain('<Code>BadDigest</Code>');
          expect(head).toBeUndefined();
        }
      },
    );

    it(
      c.caseName(
        'checksumUnchecked',
        'a body whose x-amz-checksum-crc32 does not match is refused with 400 BadDigest and not stored',
        'a body whose x-amz-checksum-crc32 does not match is stored',
      ),
      async () => {
        const t = c.s3();
        const res = await raw(
          t.endpoint,
          'PUT',
          `/${t.bucket}/sum/bad-crc`,
          { 'content-length': 3, 'x-amz-checksum-crc32': 'AAAAAA==' },
          'abc',
        );
        const head = await new S3ObjectStore({ client: t.client, bucket: t.bucket }).head('sum/bad-crc');
        if (c.deviates('checksumUnchecked')) {
          expect(res.status).toBe(200);
          expect(head?.size).toBe(3);
        } else {
          expect(res.status).toBe(400);
          expect(res.body).toContain('<Code>BadDigest</Code>');
          expect(head).toBeUndefined();
        }
      },
    );
  });

  it(
    c.caseName(
      'quietDeleteListsDeleted',
      'DeleteObjects (Quiet, as prune sends it) deletes the keys, reports no error for a missing one and lists none as Deleted',
      'DeleteObjects (Quiet, as prune sends it) deletes the keys, reports no error for a missing one, but lists every key as Deleted',
    ),
    async () => {
      const t = c.s3();
      for (const key of ['del/1', 'del/2']) await t.client.send(new PutObjectCommand({ Bucket: t.bucket, Key: key, Body: key }));
      const out = await t.client.send(
        new DeleteObjectsCommand({
          Bucket: t.bucket,
          Delete: { Objects: [{ Key: 'del/1' }, { Key: 'del/2' }, { Key: 'del/never' }], Quiet: true },
        }),
      );
      expect(out.Errors ?? []).toEqual([]);
      // Harmless to prune where it deviates: prune reads only Errors.
      expect((out.Deleted ?? []).map((d) => d.Key)).toEqual(c.deviates('quietDeleteListsDeleted') ? ['del/1', 'del/2', 'del/never'] : []);
      const left = await t.client.send(new ListObjectsV2Command({ Bucket: t.bucket, Prefix: 'del/' }));
      expect(left.KeyCount).toBe(0);
    },
  );

  it(
    c.caseName(
      'noConflictInFlight',
      'a conditional upload overtaken by another conditional write of the key gets 409 ConditionalRequestConflict',
      'a conditional upload overtaken by another conditional write of the key gets 412 PreconditionFailed',
    ),
    async () => {
      const t = c.s3();
      // Start an If-None-Match PUT and hold its body back; let another one finish first.
      const url = new URL(t.endpoint);
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          {
            host: url.hostname,
            port: url.port,
            method: 'PUT',
            path: `/${t.bucket}/cond/overtaken`,
            headers: { authorization: AUTHORIZATION, 'content-length': 6, 'if-none-match': '*' },
          },
          (r) => {
            const chunks: Buffer[] = [];
            r.on('data', (chunk: Buffer) => chunks.push(chunk));
            r.on('end', () => resolve({ status: r.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
          },
        );
        req.on('error', reject);
        req.write('abc');
        setTimeout(() => {
          t.client
            .send(new PutObjectCommand({ Bucket: t.bucket, Key: 'cond/overtaken', Body: 'fast', IfNoneMatch: '*' }))
            .then(() => req.end('def'), reject);
        }, 50);
      });
      // Every implementation keeps the object of the write that finished first.
      expect(await bytesOf('cond/overtaken')).toBe('fast');
      // Where it deviates (moto 5.2.5 checks the condition only once the whole body has arrived),
      // the adapters' 409 retry cannot be exercised against it.
      if (c.deviates('noConflictInFlight')) {
        expect(res.status).toBe(412);
        expect(res.body).toContain('<Code>PreconditionFailed</Code>');
      } else {
        expect(res.status).toBe(409);
        expect(res.body).toContain('<Code>ConditionalRequestConflict</Code>');
      }
    },
  );

  it(
    c.caseName(
      'noConflictInFlight',
      'putIfAbsent overtaken mid-upload by another writer retries the 409, then ends in ObjectExistsError',
      'putIfAbsent overtaken mid-upload by another writer ends in ObjectExistsError at once (412, no 409 to retry)',
    ),
    async () => {
      const t = c.s3();
      // A client whose first PutObject sends half its body, lets a competing conditional PUT of the
      // same key finish, then sends the rest: the store's write is the overtaken one.
      const client = localS3Client(t.endpoint, { maxAttempts: 1 });
      const statuses: number[] = [];
      let held = false;
      client.middlewareStack.add(
        (next) => async (args) => {
          const req = args.request as { body?: unknown };
          if (!held) {
            // The store's body is a Uint8Array; the check keeps the cast honest.
            if (!(req.body instanceof Uint8Array)) throw new Error(`expected a byte body, got ${typeof req.body}`);
            held = true;
            const bytes = Buffer.from(req.body);
            req.body = Readable.from(
              (async function* () {
                yield bytes.subarray(0, 10);
                // The stream is read ahead of the socket: give the request's headers and first
                // bytes time to reach the server before the competitor starts (as in the case above).
                await new Promise((r) => setTimeout(r, 200));
                await t.client.send(new PutObjectCommand({ Bucket: t.bucket, Key: 'cond/retry', Body: 'competitor', IfNoneMatch: '*' }));
                yield bytes.subarray(10);
              })(),
            );
          }
          // Here, next to the transport, the reply is still raw (the deserializer turns it into an error later).
          const out = await next(args);
          statuses.push((out.response as { statusCode: number }).statusCode);
          return out;
        },
        { step: 'deserialize', name: 'holdFirstBody' },
      );
      const store = new S3ObjectStore({ client, bucket: t.bucket, sleep: async () => undefined });
      try {
        await expect(
          store.putIfAbsent({ key: 'cond/retry', body: body('the store writes this body'), contentType: 'text/plain', metadata: {} }),
        ).rejects.toThrow(ObjectExistsError);
      } finally {
        client.destroy();
      }
      expect(await bytesOf('cond/retry')).toBe('competitor');
      // S3 answers the overtaken upload 409, which the store retries and then gets 412.
      expect(statuses).toEqual(c.deviates('noConflictInFlight') ? [412] : [409, 412]);
    },
  );
}
