/** The S3 emulator's routing: which operation a request names, and the handler that answers it. */
import { createBucket, listBuckets } from './buckets.ts';
import { listObjectsV2 } from './listing.ts';
import type { S3Operation } from './model.ts';
import { deleteObjects, getObject, putObject } from './objects.ts';
import { type Reply, S3Error } from './replies.ts';
import type { RequestContext } from './request.ts';
import type { Store } from './store.ts';

/** The S3 operation a request names; `Unsupported` for what the emulator does not implement. */
export function operationOf(ctx: RequestContext): S3Operation {
  const { method, bucket, key, query } = ctx;
  const unsupported = ['uploads', 'uploadId', 'tagging', 'acl', 'policy', 'versioning', 'versions', 'lifecycle', 'cors'];
  if (unsupported.some((p) => query.has(p))) return 'Unsupported';
  if (bucket === '') return method === 'GET' ? 'ListBuckets' : 'Unsupported';
  if (key === undefined) {
    switch (method) {
      case 'PUT':
        return 'CreateBucket';
      case 'HEAD':
        return 'HeadBucket';
      case 'DELETE':
        return 'DeleteBucket';
      case 'GET':
        return query.get('list-type') === '2' ? 'ListObjectsV2' : 'Unsupported';
      case 'POST':
        return query.has('delete') ? 'DeleteObjects' : 'Unsupported';
      default:
        return 'Unsupported';
    }
  }
  switch (method) {
    case 'PUT':
      return ctx.req.headers['x-amz-copy-source'] === undefined ? 'PutObject' : 'Unsupported';
    case 'GET':
      return 'GetObject';
    case 'HEAD':
      return 'HeadObject';
    case 'DELETE':
      return 'DeleteObject';
    default:
      return 'Unsupported';
  }
}

/** Runs `operation`'s handler; `Unsupported` answers 501 NotImplemented (405 for a method S3 has no use for). */
export async function dispatch(store: Store, ctx: RequestContext, operation: S3Operation): Promise<Reply> {
  switch (operation) {
    case 'ListBuckets':
      return listBuckets(store);
    case 'CreateBucket':
      return createBucket(store, ctx);
    case 'HeadBucket':
      store.bucket(ctx.bucket);
      return { status: 200, headers: { 'x-amz-bucket-region': 'us-east-1' } };
    case 'DeleteBucket':
      await store.deleteBucket(ctx.bucket);
      return { status: 204, headers: {} };
    case 'ListObjectsV2':
      return listObjectsV2(store, ctx);
    case 'DeleteObjects':
      return deleteObjects(store, ctx);
    case 'PutObject':
      return putObject(store, ctx);
    case 'GetObject':
    case 'HeadObject':
      return getObject(store, ctx, operation === 'HeadObject');
    case 'DeleteObject':
      store.bucket(ctx.bucket);
      await store.delete(ctx.bucket, ctx.key ?? '');
      return { status: 204, headers: {} };
    case 'Unsupported':
      if (ctx.method === 'POST' || ctx.method === 'PUT' || ctx.method === 'GET' || ctx.method === 'DELETE' || ctx.method === 'HEAD') {
        throw new S3Error(501, 'NotImplemented', 'A header or query you provided implies functionality that is not implemented.');
      }
      throw new S3Error(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.', {
        Method: ctx.method,
        ResourceType: ctx.key === undefined ? 'BUCKET' : 'OBJECT',
      });
  }
}
