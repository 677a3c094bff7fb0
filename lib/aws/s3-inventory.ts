import { DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { gunzipSync } from 'node:zlib';
import { zstdDecompressAll } from '../format/zstd-frames.ts';

/** An object as a listing shows it. */
export interface ListedObject {
  readonly key: string;
  readonly size: number;
}

/** Read access to the bucket, for the operations tools (never writes). */
export interface Inventory {
  /** Every object under a prefix, in key order; with `startAfter`, only keys after it (S3's `StartAfter`). */
  list(prefix: string, startAfter?: string): AsyncIterable<ListedObject>;
  /** The object's user metadata, or undefined when it does not exist. */
  head(key: string): Promise<Readonly<Record<string, string>> | undefined>;
  /** The object's body, decompressed by its extension (`.gz`, `.zst`). */
  read(key: string): Promise<Buffer>;
}

/** The inventory of an S3 bucket. */
export class S3Inventory implements Inventory {
  readonly #client: S3Client;
  readonly #bucket: string;

  constructor(options: { readonly client: S3Client; readonly bucket: string }) {
    this.#client = options.client;
    this.#bucket = options.bucket;
  }

  async *list(prefix: string, startAfter?: string): AsyncIterable<ListedObject> {
    let token: string | undefined;
    do {
      const page = await this.#client.send(
        new ListObjectsV2Command({
          Bucket: this.#bucket,
          Prefix: prefix,
          ContinuationToken: token,
          ...(startAfter === undefined ? {} : { StartAfter: startAfter }),
        }),
      );
      for (const item of page.Contents ?? []) yield { key: item.Key!, size: item.Size ?? 0 };
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async head(key: string): Promise<Readonly<Record<string, string>> | undefined> {
    try {
      const result = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }));
      return result.Metadata ?? {};
    } catch (error) {
      if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
      throw error;
    }
  }

  async read(key: string): Promise<Buffer> {
    const result = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
    const raw = Buffer.from(await result.Body!.transformToByteArray());
    if (key.endsWith('.gz')) return gunzipSync(raw);
    // Every frame: Node's zstdDecompressSync alone returns the first one's content only.
    if (key.endsWith('.zst')) return zstdDecompressAll(raw);
    return raw;
  }
}

/** A key S3 did not delete, and S3's reason. */
export interface DeleteFailure {
  readonly key: string | undefined;
  readonly message: string | undefined;
}

/** Deletes up to 1,000 keys in one `DeleteObjects` request (quiet); returns the keys S3 refused. */
export async function deleteObjectBatch(client: S3Client, bucket: string, keys: readonly string[]): Promise<DeleteFailure[]> {
  const result = await client.send(
    new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }),
  );
  return (result.Errors ?? []).map((error) => ({ key: error.Key, message: error.Message }));
}
