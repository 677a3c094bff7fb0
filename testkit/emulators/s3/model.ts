/** The S3 emulator's model: its operations, buckets and stored objects, and S3's size limits. */

/** The operations the emulator names (for counters and the fault hook). */
export type S3Operation =
  | 'ListBuckets'
  | 'CreateBucket'
  | 'HeadBucket'
  | 'DeleteBucket'
  | 'ListObjectsV2'
  | 'DeleteObjects'
  | 'PutObject'
  | 'GetObject'
  | 'HeadObject'
  | 'DeleteObject'
  | 'Unsupported';

/** An object as the emulator keeps it: the body and what S3 returns about it. */
export interface StoredObject {
  readonly key: string;
  readonly body: Buffer;
  /** Quoted hex MD5, as S3 returns it. */
  readonly etag: string;
  /** Epoch ms, whole seconds (S3's precision). */
  readonly lastModified: number;
  readonly contentType: string;
  readonly contentEncoding?: string;
  readonly contentDisposition?: string;
  readonly contentLanguage?: string;
  readonly cacheControl?: string;
  readonly expires?: string;
  /** Lower-case names without the `x-amz-meta-` prefix. */
  readonly metadata: Readonly<Record<string, string>>;
  /** e.g. `{ algorithm: 'CRC32', value: 'base64' }` */
  readonly checksum?: { readonly algorithm: ChecksumAlgorithm; readonly value: string };
}

/** A bucket: its objects and the conditional uploads in flight on its keys. */
export interface Bucket {
  readonly name: string;
  readonly createdAt: number;
  readonly objects: Map<string, StoredObject>;
  /** Keys in UTF-8 binary order; rebuilt lazily after a change. */
  sortedKeys: string[] | undefined;
  /** Conditional PUTs whose body is still arriving, per key. */
  readonly inFlight: Map<string, Set<InFlightPut>>;
}

/** A conditional PutObject whose body is still arriving. */
export interface InFlightPut {
  /** Another write committed on the key while this one was uploading. */
  conflicted: boolean;
}

/** The flexible checksums S3 accepts (`x-amz-checksum-<algorithm>`). */
export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';
/** Every `ChecksumAlgorithm`, in the order a request's headers are searched. */
export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];

/** S3's longest key, in UTF-8 bytes (KeyTooLongError beyond). */
export const MAX_KEY_BYTES = 1024;
/** S3's limit on user metadata, names and values in UTF-8 bytes (MetadataTooLarge beyond). */
export const MAX_METADATA_BYTES = 2048;
