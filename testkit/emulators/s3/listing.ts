/** The S3 emulator's ListObjectsV2: prefix, delimiter, pagination and `encoding-type=url`. */
import type { StoredObject } from './model.ts';
import { iso, type Reply, S3Error, XMLNS, xml, xmlReply } from './replies.ts';
import type { RequestContext } from './request.ts';
import type { Store } from './store.ts';

/** ListObjectsV2 in binary key order; the continuation token is the last entry returned (keys and common prefixes alike). */
export function listObjectsV2(store: Store, ctx: RequestContext): Reply {
  const bucket = store.bucket(ctx.bucket);
  const q = ctx.query;
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const startAfter = q.get('start-after') ?? undefined;
  const token = q.get('continuation-token') ?? undefined;
  const encodingType = q.get('encoding-type') ?? undefined;
  if (encodingType !== undefined && encodingType !== 'url') {
    throw new S3Error(400, 'InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type' });
  }
  const maxKeysText = q.get('max-keys');
  let maxKeys = 1000;
  if (maxKeysText !== null) {
    if (!/^\d+$/.test(maxKeysText)) {
      throw new S3Error(400, 'InvalidArgument', 'Provided max-keys not an integer or within integer range', {
        ArgumentName: 'max-keys',
        ArgumentValue: maxKeysText,
      });
    }
    maxKeys = Math.min(1000, Number(maxKeysText));
  }
  let marker: Buffer | undefined;
  if (token !== undefined) {
    const decoded = decodeToken(token);
    if (decoded === undefined) {
      throw new S3Error(400, 'InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token' });
    }
    marker = Buffer.from(decoded, 'utf8');
  }
  const startAfterBytes = token === undefined && startAfter !== undefined ? Buffer.from(startAfter, 'utf8') : undefined;

  const contents: StoredObject[] = [];
  const commonPrefixes: string[] = [];
  let truncated = false;
  let lastEntry: string | undefined;
  for (const key of store.sortedKeys(bucket)) {
    if (!key.startsWith(prefix)) continue;
    const keyBytes = Buffer.from(key, 'utf8');
    if (startAfterBytes !== undefined && Buffer.compare(keyBytes, startAfterBytes) <= 0) continue;
    let entry = key;
    let isPrefix = false;
    if (delimiter !== '') {
      const at = key.indexOf(delimiter, prefix.length);
      if (at >= 0) {
        entry = key.slice(0, at + delimiter.length);
        isPrefix = true;
      }
    }
    // Entries (keys and common prefixes) come in non-decreasing binary order; the token is the last one returned.
    if (marker !== undefined && Buffer.compare(Buffer.from(entry, 'utf8'), marker) <= 0) continue;
    if (entry === lastEntry) continue;
    if (contents.length + commonPrefixes.length >= maxKeys) {
      truncated = maxKeys > 0;
      break;
    }
    lastEntry = entry;
    if (isPrefix) commonPrefixes.push(entry);
    else contents.push(bucket.objects.get(key) as StoredObject);
  }

  const enc = (s: string): string => xml(encodingType === 'url' ? urlEncodeKey(s) : s);
  const parts: string[] = [`<ListBucketResult xmlns="${XMLNS}">`, `<Name>${xml(bucket.name)}</Name>`, `<Prefix>${enc(prefix)}</Prefix>`];
  if (delimiter !== '') parts.push(`<Delimiter>${enc(delimiter)}</Delimiter>`);
  parts.push(`<MaxKeys>${maxKeys}</MaxKeys>`);
  if (encodingType !== undefined) parts.push(`<EncodingType>${xml(encodingType)}</EncodingType>`);
  parts.push(`<KeyCount>${contents.length + commonPrefixes.length}</KeyCount>`, `<IsTruncated>${truncated}</IsTruncated>`);
  if (token !== undefined) parts.push(`<ContinuationToken>${xml(token)}</ContinuationToken>`);
  if (truncated && lastEntry !== undefined) parts.push(`<NextContinuationToken>${xml(encodeToken(lastEntry))}</NextContinuationToken>`);
  if (startAfter !== undefined) parts.push(`<StartAfter>${enc(startAfter)}</StartAfter>`);
  for (const o of contents) {
    parts.push(
      `<Contents><Key>${enc(o.key)}</Key><LastModified>${iso(o.lastModified)}</LastModified><ETag>${xml(o.etag)}</ETag>` +
        (o.checksum === undefined
          ? ''
          : `<ChecksumAlgorithm>${o.checksum.algorithm}</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType>`) +
        `<Size>${o.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
    );
  }
  for (const p of commonPrefixes) parts.push(`<CommonPrefixes><Prefix>${enc(p)}</Prefix></CommonPrefixes>`);
  parts.push('</ListBucketResult>');
  return xmlReply(200, parts.join(''));
}

function encodeToken(entry: string): string {
  return Buffer.from(`v1:${entry}`, 'utf8').toString('base64');
}

function decodeToken(token: string): string | undefined {
  const text = Buffer.from(token, 'base64').toString('utf8');
  return text.startsWith('v1:') ? text.slice(3) : undefined;
}

/** S3's `encoding-type=url`: percent-encoding with `/` kept and spaces as `+`. */
function urlEncodeKey(s: string): string {
  return encodeURIComponent(s)
    .replace(/%2F/g, '/')
    .replace(/%20/g, '+')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
