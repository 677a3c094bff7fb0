/** The S3 emulator's object operations: PutObject (conditional writes included), GetObject and HeadObject, DeleteObjects. */
import { createHash } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { verifyChecksums } from './checksums.ts';
import { type InFlightPut, MAX_KEY_BYTES, MAX_METADATA_BYTES, type StoredObject } from './model.ts';
import { httpDate, type Reply, S3Error, unxml, XMLNS, xml, xmlReply } from './replies.ts';
import { header, type RequestContext, readPutBody } from './request.ts';
import type { Store } from './store.ts';

/** PutObject: verifies checksums, applies `If-None-Match: *` and `If-Match` atomically, and answers 409 to a conditional upload overtaken meanwhile. */
export async function putObject(store: Store, ctx: RequestContext): Promise<Reply> {
  const { req, key: maybeKey } = ctx;
  const key = maybeKey ?? '';
  const bucket = store.bucket(ctx.bucket);
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new S3Error(400, 'KeyTooLongError', 'Your key is too long', { Key: key });
  }
  const h = req.headers;
  const ifNoneMatch = header(h['if-none-match']);
  const ifMatch = header(h['if-match']);
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
    throw new S3Error(501, 'NotImplemented', 'A header you provided implies functionality that is not implemented', {
      Header: 'If-None-Match',
    });
  }
  const metadata = userMetadata(h);

  // Register a conditional upload before its body arrives, so that a write committed meanwhile
  // answers it with 409 ConditionalRequestConflict, as S3 does.
  const conditional = ifNoneMatch !== undefined || ifMatch !== undefined;
  const mine: InFlightPut = { conflicted: false };
  if (conditional) {
    let set = bucket.inFlight.get(key);
    if (set === undefined) bucket.inFlight.set(key, (set = new Set()));
    set.add(mine);
  }
  try {
    const { body, trailers } = await readPutBody(ctx);
    const checksum = verifyChecksums(h, trailers, body);
    const encoding = header(h['content-encoding'])
      ?.split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '' && s.toLowerCase() !== 'aws-chunked')
      .join(',');
    const object: StoredObject = {
      key,
      body,
      etag: `"${createHash('md5').update(body).digest('hex')}"`,
      lastModified: Math.floor(Date.now() / 1000) * 1000,
      contentType: header(h['content-type']) ?? 'binary/octet-stream',
      ...optional('contentEncoding', encoding === '' ? undefined : encoding),
      ...optional('contentDisposition', header(h['content-disposition'])),
      ...optional('contentLanguage', header(h['content-language'])),
      ...optional('cacheControl', header(h['cache-control'])),
      ...optional('expires', header(h['expires'])),
      metadata,
      ...optional('checksum', checksum),
    };

    // The check and the create happen in one synchronous step: no other request can run between.
    if (mine.conflicted) {
      throw new S3Error(
        409,
        'ConditionalRequestConflict',
        'A conflicting conditional operation is currently in progress against this resource. Please try again.',
        {
          Key: key,
        },
      );
    }
    const existing = bucket.objects.get(key);
    if (ifNoneMatch !== undefined && existing !== undefined) {
      throw new S3Error(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
        Condition: 'If-None-Match',
      });
    }
    if (ifMatch !== undefined) {
      if (existing === undefined) {
        throw new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
      }
      if (!etagMatches(ifMatch, existing.etag)) {
        throw new S3Error(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
          Condition: 'If-Match',
        });
      }
    }
    const persisted = store.put(bucket, object);
    for (const other of bucket.inFlight.get(key) ?? []) if (other !== mine) other.conflicted = true;
    await persisted;

    const headers: OutgoingHttpHeaders = { etag: object.etag, 'x-amz-server-side-encryption': 'AES256' };
    if (object.checksum !== undefined) {
      headers[`x-amz-checksum-${object.checksum.algorithm.toLowerCase()}`] = object.checksum.value;
      headers['x-amz-checksum-type'] = 'FULL_OBJECT';
    }
    return { status: 200, headers };
  } finally {
    if (conditional) {
      const set = bucket.inFlight.get(key);
      set?.delete(mine);
      if (set?.size === 0) bucket.inFlight.delete(key);
    }
  }
}

function userMetadata(h: IncomingMessage['headers']): Record<string, string> {
  const metadata: Record<string, string> = {};
  let size = 0;
  for (const [name, value] of Object.entries(h)) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue;
    const short = name.slice('x-amz-meta-'.length);
    const v = Array.isArray(value) ? value.join(',') : value;
    metadata[short] = v;
    size += Buffer.byteLength(short) + Buffer.byteLength(v);
  }
  if (size > MAX_METADATA_BYTES) {
    throw new S3Error(400, 'MetadataTooLarge', 'Your metadata headers exceed the maximum allowed metadata size.', {
      Size: String(size),
      MaxSizeAllowed: String(MAX_METADATA_BYTES),
    });
  }
  return metadata;
}

/** GetObject and HeadObject (`head`): conditions, single byte ranges, and the stored checksum with `x-amz-checksum-mode: ENABLED`. */
export function getObject(store: Store, ctx: RequestContext, head: boolean): Reply {
  const bucket = store.bucket(ctx.bucket);
  const key = ctx.key ?? '';
  const object = bucket.objects.get(key);
  if (object === undefined) throw new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
  const h = ctx.req.headers;
  const ifMatch = header(h['if-match']);
  const ifNoneMatch = header(h['if-none-match']);
  const headers = objectHeaders(object);
  if (ifMatch !== undefined && !etagMatches(ifMatch, object.etag)) {
    throw new S3Error(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
      Condition: 'If-Match',
    });
  }
  if (ifNoneMatch !== undefined && etagMatches(ifNoneMatch, object.etag)) {
    return { status: 304, headers: { etag: object.etag, 'last-modified': httpDate(object.lastModified) } };
  }
  const size = object.body.length;
  const range = parseRange(header(h['range']), size);
  if (range === 'unsatisfiable') {
    throw new S3Error(
      416,
      'InvalidRange',
      'The requested range is not satisfiable',
      { RangeRequested: header(h['range']) ?? '', ActualObjectSize: String(size) },
      {
        'content-range': `bytes */${size}`,
      },
    );
  }
  if (range === undefined && header(h['x-amz-checksum-mode'])?.toUpperCase() === 'ENABLED' && object.checksum !== undefined) {
    headers[`x-amz-checksum-${object.checksum.algorithm.toLowerCase()}`] = object.checksum.value;
    headers['x-amz-checksum-type'] = 'FULL_OBJECT';
  }
  if (range !== undefined) {
    const [start, end] = range;
    headers['content-range'] = `bytes ${start}-${end}/${size}`;
    headers['content-length'] = end - start + 1;
    return { status: 206, headers, ...(head ? {} : { body: object.body.subarray(start, end + 1) }) };
  }
  headers['content-length'] = size;
  return { status: 200, headers, ...(head ? {} : { body: object.body }) };
}

function objectHeaders(object: StoredObject): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
    etag: object.etag,
    'last-modified': httpDate(object.lastModified),
    'content-type': object.contentType,
    'accept-ranges': 'bytes',
    'x-amz-server-side-encryption': 'AES256',
  };
  if (object.contentEncoding !== undefined) headers['content-encoding'] = object.contentEncoding;
  if (object.contentDisposition !== undefined) headers['content-disposition'] = object.contentDisposition;
  if (object.contentLanguage !== undefined) headers['content-language'] = object.contentLanguage;
  if (object.cacheControl !== undefined) headers['cache-control'] = object.cacheControl;
  if (object.expires !== undefined) headers['expires'] = object.expires;
  for (const [name, value] of Object.entries(object.metadata)) headers[`x-amz-meta-${name}`] = value;
  return headers;
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n`; anything else (multiple ranges, bad syntax) is ignored, as S3 does. */
function parseRange(value: string | undefined, size: number): [number, number] | 'unsatisfiable' | undefined {
  if (value === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (m === null) return undefined;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return undefined;
  if (a === '') {
    const n = Number(b);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return [Math.max(0, size - n), size - 1];
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (b !== '' && Number(b) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return [start, end];
}

/** DeleteObjects: deletes each key (a missing one is not an error); Quiet lists none as Deleted. */
export async function deleteObjects(store: Store, ctx: RequestContext): Promise<Reply> {
  store.bucket(ctx.bucket);
  const { body, trailers } = await readPutBody(ctx);
  verifyChecksums(ctx.req.headers, trailers, body);
  const text = body.toString('utf8');
  const quiet = /<Quiet>\s*true\s*<\/Quiet>/i.test(text);
  const keys = [...text.matchAll(/<Object>[\s\S]*?<Key>([\s\S]*?)<\/Key>[\s\S]*?<\/Object>/g)].map((m) => unxml(m[1] ?? ''));
  if (keys.length > 1000)
    throw new S3Error(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
  const deleted: string[] = [];
  for (const key of keys) {
    await store.delete(ctx.bucket, key);
    deleted.push(key);
  }
  const items = quiet ? '' : deleted.map((k) => `<Deleted><Key>${xml(k)}</Key></Deleted>`).join('');
  return xmlReply(200, `<DeleteResult xmlns="${XMLNS}">${items}</DeleteResult>`);
}

function etagMatches(condition: string, etag: string): boolean {
  const norm = (s: string): string => s.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
  return condition.split(',').some((c) => c.trim() === '*' || norm(c) === norm(etag));
}

function optional<K extends string, V>(name: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: V };
}
