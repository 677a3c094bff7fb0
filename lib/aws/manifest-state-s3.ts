import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ManifestStateStore } from '../core/ports.ts';

const statusOf = (error: unknown) => (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

/**
 * The scheduled manifest writer's state in S3 (`{prefix}{topic}/_manifest-state.json`): read with
 * its ETag, saved with `If-Match` (or `If-None-Match: *` when there was none), so that of two
 * overlapping runs only the first saves and the other's progress is redone, never mixed in.
 */
export class S3ManifestStateStore implements ManifestStateStore {
  readonly #client: S3Client;
  readonly #bucket: string;

  constructor(options: { readonly client: S3Client; readonly bucket: string }) {
    this.#client = options.client;
    this.#bucket = options.bucket;
  }

  async load(key: string): Promise<{ body: Uint8Array; etag: string } | undefined> {
    try {
      const result = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
      return { body: await result.Body!.transformToByteArray(), etag: result.ETag! };
    } catch (error) {
      if (statusOf(error) === 404 || (error as Error).name === 'NoSuchKey') return undefined;
      throw error;
    }
  }

  async save(key: string, body: Uint8Array, etag: string | undefined): Promise<boolean> {
    try {
      await this.#client.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: key,
          Body: body,
          ContentType: 'application/json',
          ...(etag === undefined ? { IfNoneMatch: '*' } : { IfMatch: etag }),
        }),
      );
      return true;
    } catch (error) {
      // 412: another run saved first; 409: a concurrent conditional write is in progress.
      if (statusOf(error) === 412 || statusOf(error) === 409) return false;
      throw error;
    }
  }
}
