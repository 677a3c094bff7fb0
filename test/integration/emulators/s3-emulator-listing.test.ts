/**
 * The S3 emulator against the real @aws-sdk/client-s3: ListObjectsV2 (pagination, prefixes,
 * delimiters, encoding) and what a restart loads from a kept data directory. Buckets, objects
 * and conditional writes: s3-emulator.test.ts.
 */
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localS3Client } from '../../../testkit/emulators/clients.ts';
import { startS3Emulator } from '../../../testkit/emulators/s3-emulator.ts';
import { startS3ForTest, type S3ForTest } from '../../support/emulators.ts';
import { caught } from '../../support/s3-caught.ts';

describe('ListObjectsV2', () => {
  let l: S3ForTest;
  const keys: string[] = [];
  beforeAll(async () => {
    l = await startS3ForTest();
    for (let i = 0; i < 2500; i++) keys.push(`t/p${i % 3}/obj-${String(i).padStart(5, '0')}.jsonl`);
    keys.push('t/top.txt', 'u/other');
    for (let i = 0; i < keys.length; i += 100) {
      await Promise.all(keys.slice(i, i + 100).map((Key) => l.client.send(new PutObjectCommand({ Bucket: l.bucket, Key, Body: Key }))));
    }
  });
  afterAll(async () => {
    await l.stop();
  });

  it('paginates with continuation tokens, 1000 keys a page by default, in binary key order', async () => {
    const pages: number[] = [];
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await l.client.send(new ListObjectsV2Command({ Bucket: l.bucket, Prefix: 't/', ContinuationToken: token }));
      pages.push(page.KeyCount ?? 0);
      expect(page.KeyCount).toBe(page.Contents?.length);
      expect(page.MaxKeys).toBe(1000);
      for (const c of page.Contents ?? []) seen.push(c.Key!);
      expect(page.IsTruncated).toBe(page.NextContinuationToken !== undefined);
      token = page.NextContinuationToken;
    } while (token !== undefined);
    expect(pages).toEqual([1000, 1000, 501]);
    const expected = keys.filter((k) => k.startsWith('t/')).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(seen).toEqual(expected);
  });

  it('honours max-keys and start-after', async () => {
    const page = await l.client.send(
      new ListObjectsV2Command({ Bucket: l.bucket, Prefix: 't/p1/', MaxKeys: 3, StartAfter: 't/p1/obj-00001.jsonl' }),
    );
    expect(page.Contents?.map((c) => c.Key)).toEqual(['t/p1/obj-00004.jsonl', 't/p1/obj-00007.jsonl', 't/p1/obj-00010.jsonl']);
    expect(page.IsTruncated).toBe(true);
    expect(page.StartAfter).toBe('t/p1/obj-00001.jsonl');
  });

  it('groups keys under CommonPrefixes with a delimiter, and paginates over them', async () => {
    const page = await l.client.send(new ListObjectsV2Command({ Bucket: l.bucket, Prefix: 't/', Delimiter: '/' }));
    expect(page.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['t/p0/', 't/p1/', 't/p2/']);
    expect(page.Contents?.map((c) => c.Key)).toEqual(['t/top.txt']);
    expect(page.KeyCount).toBe(4);
    expect(page.IsTruncated).toBe(false);

    const names: string[] = [];
    let token: string | undefined;
    do {
      const p = await l.client.send(new ListObjectsV2Command({ Bucket: l.bucket, Delimiter: '/', MaxKeys: 1, ContinuationToken: token }));
      names.push(...(p.CommonPrefixes ?? []).map((x) => x.Prefix!), ...(p.Contents ?? []).map((x) => x.Key!));
      token = p.NextContinuationToken;
    } while (token !== undefined);
    expect(names).toEqual(['t/', 'u/']);
  });

  it('url-encodes keys with encoding-type=url', async () => {
    await l.client.send(new PutObjectCommand({ Bucket: l.bucket, Key: 'enc/a b&c', Body: 'x' }));
    const page = await l.client.send(new ListObjectsV2Command({ Bucket: l.bucket, Prefix: 'enc/', EncodingType: 'url' }));
    expect(page.EncodingType).toBe('url');
    expect(page.Contents?.map((c) => c.Key)).toEqual(['enc/a+b%26c']);
  });

  it('answers NoSuchBucket for a missing bucket', async () => {
    const err = await caught(l.client.send(new ListObjectsV2Command({ Bucket: 'no-such-bucket-here' })));
    expect(err.name).toBe('NoSuchBucket');
  });
});

describe('kept data (dataDir)', () => {
  it('reports a kept object it cannot load, keeps its files, and loads the others', async () => {
    const dir = await mkdtemp(join(tmpdir(), 's3-emulator-kept-'));
    try {
      const first = await startS3Emulator({ dataDir: dir });
      const client = localS3Client(first.endpoint);
      await client.send(new CreateBucketCommand({ Bucket: 'kept' }));
      for (const key of ['a/good', 'a/truncated', 'a/bad-sidecar']) {
        await client.send(new PutObjectCommand({ Bucket: 'kept', Key: key, Body: `body of ${key}` }));
      }
      client.destroy();
      await first.stop();

      const objectsDir = join(dir, 'buckets', 'kept', 'objects');
      const sidecar = (key: string) => join(objectsDir, `${createHash('sha256').update(key, 'utf8').digest('hex')}.json`);
      const truncatedBody = join(objectsDir, (JSON.parse(await readFile(sidecar('a/truncated'), 'utf8')) as { bodyFile: string }).bodyFile);
      await writeFile(truncatedBody, 'body');
      await writeFile(sidecar('a/bad-sidecar'), '{"key": "a/bad-si');
      const before = (await readdir(objectsDir)).sort();

      const problems: string[] = [];
      const second = await startS3Emulator({ dataDir: dir, onLoadProblem: (message) => problems.push(message) });
      try {
        expect(problems).toHaveLength(2);
        expect(problems.find((p) => p.includes('a/truncated'))).toMatch(/a\/truncated.*4 bytes.*expected 19.*kept/);
        expect(problems.find((p) => p.includes(sidecar('a/bad-sidecar')))).toMatch(/not valid JSON.*kept/);
        expect(second.loadProblems).toEqual(problems);
        // Nothing deleted: the files are there for a person to look at.
        expect((await readdir(objectsDir)).sort()).toEqual(before);
        const reader = localS3Client(second.endpoint);
        const listed = await reader.send(new ListObjectsV2Command({ Bucket: 'kept' }));
        expect((listed.Contents ?? []).map((o) => o.Key)).toEqual(['a/good']);
        reader.destroy();
      } finally {
        await second.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
