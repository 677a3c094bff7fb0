import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ObjectExistsError } from '../core/errors.ts';
import type { NewObject, ObjectStore, StoredObjectHead } from '../core/ports.ts';

/** Retries of S3's 409 ConditionalRequestConflict (another conditional write in flight on the key). */
const CONFLICT_RETRIES = 6;
const CONFLICT_BACKOFF_MS = 25;

/**
 * The object store in S3. Creates objects with `If-None-Match: *` and maps 412 to
 * `ObjectExistsError`; throttling (503 SlowDown) and 5xx are retried by the SDK.
 */
export class S3ObjectStore implements ObjectStore {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(options: {
    readonly client: S3Client;
    readonly bucket: string;
    /** For tests: how to wait between 409 retries. */
    readonly sleep?: (ms: number) => Promise<void>;
  }) {
    this.#client = options.client;
    this.#bucket = options.bucket;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async putIfAbsent(object: NewObject): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#client.send(
          new PutObjectCommand({
            Bucket: this.#bucket,
            Key: object.key,
            Body: object.body,
            ContentType: object.contentType,
            Metadata: { ...object.metadata },
            IfNoneMatch: '*',
          }),
        );
        return;
      } catch (error) {
        const status = httpStatus(error);
        if (status === 412) throw new ObjectExistsError(object.key, { cause: error });
        // 409 is not a 412: the other write may yet fail, so the key may still be free.
        if (status === 409 && attempt < CONFLICT_RETRIES) {
          await this.#sleep(CONFLICT_BACKOFF_MS * 2 ** attempt * (0.5 + Math.random()));
          continue;
        }
        throw error;
      }
    }
  }

  async head(key: string): Promise<StoredObjectHead | undefined> {
    try {
      const result = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }));
      return { key, size: result.ContentLength ?? 0, metadata: result.Metadata ?? {} };
    } catch (error) {
      if (httpStatus(error) === 404) return undefined;
      throw error;
    }
  }
}

function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}
