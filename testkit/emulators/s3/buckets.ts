/** The S3 emulator's bucket operations: ListBuckets and CreateBucket. */
import { iso, type Reply, S3Error, XMLNS, xml, xmlReply } from './replies.ts';
import { type RequestContext, readBody } from './request.ts';
import type { Store } from './store.ts';

/** ListBuckets: every bucket, by name. */
export function listBuckets(store: Store): Reply {
  const buckets = [...store.buckets.values()]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((b) => `<Bucket><Name>${xml(b.name)}</Name><CreationDate>${iso(b.createdAt)}</CreationDate></Bucket>`)
    .join('');
  return xmlReply(
    200,
    `<ListAllMyBucketsResult xmlns="${XMLNS}"><Owner><ID>local</ID><DisplayName>local</DisplayName></Owner><Buckets>${buckets}</Buckets></ListAllMyBucketsResult>`,
  );
}

/** CreateBucket: S3's naming rules; 409 BucketAlreadyOwnedByYou for a bucket that exists. */
export async function createBucket(store: Store, ctx: RequestContext): Promise<Reply> {
  await readBody(ctx);
  const name = ctx.bucket;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) || name.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(name)) {
    throw new S3Error(400, 'InvalidBucketName', 'The specified bucket is not valid.', { BucketName: name });
  }
  if (store.buckets.has(name)) {
    throw new S3Error(
      409,
      'BucketAlreadyOwnedByYou',
      'Your previous request to create the named bucket succeeded and you already own it.',
      {
        BucketName: name,
      },
    );
  }
  await store.createBucket(name);
  return { status: 200, headers: { location: `/${name}` } };
}
