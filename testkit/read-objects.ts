/**
 * Reading a sink's bucket back with the raw SDK (none of the sink's code): listing, fetching and
 * decompressing objects by their extension, telling their format and generation from their keys,
 * reading Parquet with an independent reader (hyparquet), and splitting raw-bytes bodies. The
 * read-back checkers (read-back.ts for the tests, verify-delivery.ts for local mode) share it.
 */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { gunzipSync } from 'node:zlib';
import { zstdDecompressAll } from '../lib/format/zstd-frames.ts';

/** An object as a listing names it. */
export interface StoredObject {
  readonly key: string;
  readonly size: number;
}

/** Every object under `prefix`, in listing order. */
export async function listObjects(s3: S3Client, bucket: string, prefix: string): Promise<StoredObject[]> {
  const objects: StoredObject[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const item of page.Contents ?? []) objects.push({ key: item.Key!, size: item.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return objects;
}

/** An object's bytes, decompressed by its key's extension (`.gz`, `.zst`). */
export async function readBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const raw = Buffer.from(await got.Body!.transformToByteArray());
  return key.endsWith('.gz') ? gunzipSync(raw) : key.endsWith('.zst') ? zstdDecompressAll(raw) : raw; // every frame, not the first only
}

/** The object's format, by its key's extension (before compression). */
export function formatOf(key: string): 'jsonl' | 'parquet' | 'raw' {
  if (/\.parquet$/.test(key)) return 'parquet';
  if (/\.bin(?:\.gz|\.zst)?$/.test(key)) return 'raw';
  return 'jsonl';
}

/** The generation an object's key names (`+g<n>` before the extension); 0 when it names none. */
export function generationOf(key: string): number {
  return Number(/\+g(\d+)\.[^/]*$/.exec(key)?.[1] ?? 0);
}

/** The topic a Parquet object's key names (its columns do not hold it). */
export function parquetTopicOf(key: string): string | undefined {
  return /([^/]+)\+\d+\+\d{20}(?:\+g\d+)?\.parquet$/.exec(key)?.[1];
}

/**
 * A Parquet body's rows (the first `rowEnd`, or all), read with hyparquet: an independent reader,
 * not the writer's code. Loaded on first use, so that local mode starts without it.
 */
export async function parquetRows(body: Buffer, rowEnd?: number): Promise<Array<Record<string, unknown>>> {
  if (body.byteLength === 0) return [];
  const [{ parquetReadObjects }, { compressors }] = await Promise.all([import('hyparquet'), import('hyparquet-compressors')]);
  const file = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
  return (await parquetReadObjects({ file, compressors, ...(rowEnd === undefined ? {} : { rowEnd }) })) as Array<Record<string, unknown>>;
}

/** Bigints (INT64) as numbers, all the way down. */
export function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object' && !(value instanceof Date))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value ?? null;
}

/** A `SINK_RAW_SEPARATOR` setting as bytes (JSON string escapes); undefined: a newline, the sink's default. */
export function rawSeparator(setting: string | undefined): Buffer {
  return Buffer.from(setting === undefined ? '\n' : (JSON.parse(`"${setting.replace(/"/g, '\\"')}"`) as string), 'utf8');
}

/** Splits a raw-bytes body into its values (each followed by the separator); undefined when the body does not end with one. */
export function rawValues(body: Buffer, separator: Buffer): Buffer[] | undefined {
  if (body.byteLength === 0) return [];
  if (!body.subarray(body.byteLength - separator.byteLength).equals(separator)) return undefined;
  const values: Buffer[] = [];
  let start = 0;
  while (start < body.byteLength) {
    const end = body.indexOf(separator, start);
    values.push(body.subarray(start, end));
    start = end + separator.byteLength;
  }
  return values;
}
