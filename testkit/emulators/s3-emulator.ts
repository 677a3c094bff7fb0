/**
 * A small S3 emulator on node:http, for tests, chaos tests, benchmarks and local mode.
 *
 * Path-style addressing only (`http://127.0.0.1:PORT/bucket/key`); signatures and credentials are
 * not checked. It implements the operations the sink and its tests use, following the S3 API
 * reference: XML error bodies (`<Error><Code>…</Code><Message>…</Message>…`), S3's status codes
 * and headers, conditional PUTs (`If-None-Match: *`, `If-Match`) with an atomic check-and-create
 * and 409 ConditionalRequestConflict for overlapping conditional uploads, aws-chunked bodies with
 * trailing checksums (the AWS SDK v3 default for streamed bodies), flexible checksums
 * (CRC32, CRC32C, SHA-1, SHA-256 verified; CRC64NVME stored and returned unverified), and
 * ListObjectsV2 with prefix, delimiter, pagination and `encoding-type=url`.
 *
 * Not implemented (answered 501 NotImplemented): multipart uploads, CopyObject, versioning,
 * tagging, ACLs and policies, ListObjects (v1), presigned-URL expiry, SSE-C/KMS, object lock.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

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

/** A fault the hook injects into one request. */
export type S3Fault =
  | { readonly kind: 'error'; readonly status: 503; readonly code: 'SlowDown' }
  | { readonly kind: 'error'; readonly status: 500; readonly code: 'InternalError' }
  /** Perform the operation, then answer 500 InternalError, as if the reply had been lost. */
  | { readonly kind: 'lost-reply' };

/** What the fault hook is told of a request. */
export interface S3FaultRequest {
  readonly operation: string;
  readonly bucket: string;
  readonly key?: string;
  readonly method: string;
}

/** Decides, per request, whether to inject a fault (undefined: none). */
export type S3FaultHook = (req: S3FaultRequest) => S3Fault | undefined;

export interface S3EmulatorOptions {
  /** Keep buckets and objects on disk under this directory and reload them on start. */
  readonly dataDir?: string;
  readonly faults?: S3FaultHook;
  /**
   * Told about each kept object (or bucket) that cannot be loaded from `dataDir`; its files are
   * left where they are. Default: a line on stderr.
   */
  readonly onLoadProblem?: (message: string) => void;
}

export interface S3Emulator {
  /** e.g. `http://127.0.0.1:41234` */
  readonly endpoint: string;
  readonly port: number;
  /** What could not be loaded from `dataDir` at start (each also passed to `onLoadProblem`). */
  readonly loadProblems: readonly string[];
  /** Requests received per operation since start (or the last reset), faulted ones included. */
  readonly counters: Readonly<Record<string, number>>;
  /** Requests received for one operation, or for all when `operation` is omitted. */
  requestCount(operation?: string): number;
  resetCounters(): void;
  /** Replaces the fault hook (undefined: no faults). */
  setFaults(hook: S3FaultHook | undefined): void;
  /** Stops listening, drops open connections and waits for pending disk writes. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Model

interface StoredObject {
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

interface Bucket {
  readonly name: string;
  readonly createdAt: number;
  readonly objects: Map<string, StoredObject>;
  /** Keys in UTF-8 binary order; rebuilt lazily after a change. */
  sortedKeys: string[] | undefined;
  /** Conditional PUTs whose body is still arriving, per key. */
  readonly inFlight: Map<string, Set<InFlightPut>>;
}

interface InFlightPut {
  /** Another write committed on the key while this one was uploading. */
  conflicted: boolean;
}

type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';
const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];

/** An S3 error reply. */
class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Readonly<Record<string, string>> = {},
    readonly headers: OutgoingHttpHeaders = {},
  ) {
    super(message);
  }
}

interface Reply {
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
  readonly body?: Buffer | string;
}

interface RequestContext {
  readonly req: IncomingMessage;
  readonly method: string;
  readonly bucket: string;
  readonly key: string | undefined;
  readonly query: URLSearchParams;
  readonly resource: string;
  /** Set once the request body has been read (or drained). */
  bodyConsumed: boolean;
}

const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';
const MAX_KEY_BYTES = 1024;
const MAX_METADATA_BYTES = 2048;

// ---------------------------------------------------------------------------------------------
// Entry point

export async function startS3Emulator(options: S3EmulatorOptions = {}): Promise<S3Emulator> {
  const store = new Store(options.dataDir);
  const loadProblems: string[] = [];
  const report = options.onLoadProblem ?? ((message: string) => void process.stderr.write(`S3 emulator: ${message}\n`));
  await store.load((message) => {
    loadProblems.push(message);
    report(message);
  });
  let faults = options.faults;
  const counters = new Map<string, number>();

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // Only reached when the reply itself could not be written (e.g. the client went away).
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'content-type': 'application/xml' });
        res.end(XML_DECL + errorXml('InternalError', `Emulator failure: ${String(err)}`, {}, 'EMULATOR'));
      } else {
        res.destroy();
      }
    });
  });
  server.keepAliveTimeout = 5_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    const method = req.method ?? 'GET';
    let ctx: RequestContext | undefined;
    let reply: Reply;
    let operation: S3Operation = 'Unsupported';
    try {
      ctx = parseRequest(req, method);
      operation = operationOf(ctx);
      counters.set(operation, (counters.get(operation) ?? 0) + 1);
      const fault = faults?.({
        operation,
        bucket: ctx.bucket,
        ...(ctx.key === undefined ? {} : { key: ctx.key }),
        method,
      });
      if (fault?.kind === 'error') {
        const message =
          fault.code === 'SlowDown' ? 'Please reduce your request rate.' : 'We encountered an internal error. Please try again.';
        throw new S3Error(fault.status, fault.code, message);
      }
      if (fault?.kind === 'lost-reply') {
        // The operation takes effect (or fails) as usual; only its answer is lost.
        await dispatch(store, ctx, operation).catch(() => undefined);
        throw new S3Error(500, 'InternalError', 'We encountered an internal error. Please try again.');
      }
      reply = await dispatch(store, ctx, operation);
    } catch (err) {
      reply = errorReply(err, ctx, method, requestId);
    }
    if (ctx?.bodyConsumed !== true) await drain(req);
    const headers: OutgoingHttpHeaders = {
      'x-amz-request-id': requestId,
      'x-amz-id-2': Buffer.from(requestId).toString('base64'),
      server: 'AmazonS3',
      ...reply.headers,
    };
    if (reply.body !== undefined && method !== 'HEAD') {
      const body = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : reply.body;
      headers['content-length'] ??= body.length;
      res.writeHead(reply.status, headers);
      res.end(body);
    } else {
      if (headers['content-length'] === undefined && method !== 'HEAD') headers['content-length'] = 0;
      res.writeHead(reply.status, headers);
      res.end();
    }
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    loadProblems,
    get counters() {
      return Object.fromEntries(counters);
    },
    requestCount(operation?: string): number {
      if (operation !== undefined) return counters.get(operation) ?? 0;
      let total = 0;
      for (const n of counters.values()) total += n;
      return total;
    },
    resetCounters() {
      counters.clear();
    },
    setFaults(hook) {
      faults = hook;
    },
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await store.flush();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Routing

function parseRequest(req: IncomingMessage, method: string): RequestContext {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  if (!rawPath.startsWith('/')) throw new S3Error(400, 'InvalidURI', "Couldn't parse the specified URI.");
  const rest = rawPath.slice(1);
  const slash = rest.indexOf('/');
  let bucket: string;
  let key: string | undefined;
  try {
    bucket = decodeURIComponent(slash < 0 ? rest : rest.slice(0, slash));
    key = slash < 0 ? undefined : decodeURIComponent(rest.slice(slash + 1));
  } catch {
    throw new S3Error(400, 'InvalidURI', "Couldn't parse the specified URI.");
  }
  if (key === '') key = undefined;
  const resource = `/${bucket}${key === undefined ? '' : `/${key}`}`;
  return { req, method, bucket, key, query, resource, bodyConsumed: false };
}

function operationOf(ctx: RequestContext): S3Operation {
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

async function dispatch(store: Store, ctx: RequestContext, operation: S3Operation): Promise<Reply> {
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

// ---------------------------------------------------------------------------------------------
// Buckets

function listBuckets(store: Store): Reply {
  const buckets = [...store.buckets.values()]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((b) => `<Bucket><Name>${xml(b.name)}</Name><CreationDate>${iso(b.createdAt)}</CreationDate></Bucket>`)
    .join('');
  return xmlReply(
    200,
    `<ListAllMyBucketsResult xmlns="${XMLNS}"><Owner><ID>local</ID><DisplayName>local</DisplayName></Owner><Buckets>${buckets}</Buckets></ListAllMyBucketsResult>`,
  );
}

async function createBucket(store: Store, ctx: RequestContext): Promise<Reply> {
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

// ---------------------------------------------------------------------------------------------
// PutObject

async function putObject(store: Store, ctx: RequestContext): Promise<Reply> {
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

/** Reads a PUT body, decoding `aws-chunked` framing and collecting its trailers. */
async function readPutBody(ctx: RequestContext): Promise<{ body: Buffer; trailers: Record<string, string> }> {
  const h = ctx.req.headers;
  const contentSha = header(h['x-amz-content-sha256']) ?? '';
  const chunked =
    contentSha.startsWith('STREAMING-') ||
    (header(h['content-encoding']) ?? '').split(',').some((s) => s.trim().toLowerCase() === 'aws-chunked');
  const decodedLengthHeader = header(h['x-amz-decoded-content-length']);
  if (chunked ? decodedLengthHeader === undefined : h['content-length'] === undefined) {
    await readBody(ctx);
    throw new S3Error(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
  }
  const raw = await readBody(ctx);
  if (!chunked) {
    if (/^[0-9a-f]{64}$/i.test(contentSha)) {
      const actual = createHash('sha256').update(raw).digest('hex');
      if (actual !== contentSha.toLowerCase()) {
        throw new S3Error(
          400,
          'XAmzContentSHA256Mismatch',
          "The provided 'x-amz-content-sha256' header does not match what was computed.",
          {
            ClientComputedContentSHA256: contentSha,
            S3ComputedContentSHA256: actual,
          },
        );
      }
    }
    return { body: raw, trailers: {} };
  }
  const decoded = decodeAwsChunked(raw);
  const expected = Number(decodedLengthHeader);
  if (!Number.isSafeInteger(expected) || expected < 0) {
    throw new S3Error(400, 'InvalidArgument', 'x-amz-decoded-content-length is not a valid length.', {
      ArgumentName: 'x-amz-decoded-content-length',
    });
  }
  if (decoded.body.length !== expected) {
    throw new S3Error(400, 'IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header');
  }
  const declared = header(h['x-amz-trailer']);
  if (declared !== undefined) {
    for (const name of declared.split(',').map((s) => s.trim().toLowerCase())) {
      if (name !== '' && decoded.trailers[name] === undefined) {
        throw new S3Error(400, 'InvalidRequest', `The trailing header ${name} was declared but not received.`);
      }
    }
  }
  return decoded;
}

/**
 * Decodes an `aws-chunked` body: `<hex-size>[;chunk-signature=…]\r\n<bytes>\r\n` … `0\r\n`, then
 * trailer lines `name:value\r\n` and a final `\r\n`.
 */
export function decodeAwsChunked(raw: Buffer): { body: Buffer; trailers: Record<string, string> } {
  const chunks: Buffer[] = [];
  let pos = 0;
  const malformed = (): S3Error => new S3Error(400, 'IncompleteBody', 'The request body terminated unexpectedly');
  for (;;) {
    const eol = raw.indexOf('\r\n', pos, 'latin1');
    if (eol < 0) throw malformed();
    const sizeText = raw.toString('latin1', pos, eol).split(';')[0]?.trim() ?? '';
    if (!/^[0-9a-fA-F]{1,16}$/.test(sizeText)) {
      throw new S3Error(400, 'InvalidChunkSizeError', 'Invalid chunk size in aws-chunked body');
    }
    const size = Number.parseInt(sizeText, 16);
    pos = eol + 2;
    if (size === 0) break;
    if (pos + size + 2 > raw.length) throw malformed();
    chunks.push(raw.subarray(pos, pos + size));
    if (raw[pos + size] !== 0x0d || raw[pos + size + 1] !== 0x0a) throw malformed();
    pos += size + 2;
  }
  const trailers: Record<string, string> = {};
  while (pos < raw.length) {
    let eol = raw.indexOf('\r\n', pos, 'latin1');
    if (eol < 0) eol = raw.length;
    const line = raw.toString('latin1', pos, eol);
    pos = eol + 2;
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformed();
    trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { body: Buffer.concat(chunks), trailers };
}

/** Verifies Content-MD5 and a flexible checksum (header or trailer); returns the checksum to store. */
function verifyChecksums(
  h: IncomingMessage['headers'],
  trailers: Record<string, string>,
  body: Buffer,
): StoredObject['checksum'] | undefined {
  const md5 = header(h['content-md5']);
  if (md5 !== undefined) {
    const given = Buffer.from(md5, 'base64');
    if (given.length !== 16) throw new S3Error(400, 'InvalidDigest', 'The Content-MD5 you specified was invalid.');
    if (!given.equals(createHash('md5').update(body).digest())) {
      throw new S3Error(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
    }
  }
  let found: StoredObject['checksum'] | undefined;
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const name = `x-amz-checksum-${algorithm.toLowerCase()}`;
    const value = header(h[name]) ?? trailers[name];
    if (value === undefined) continue;
    if (found !== undefined) {
      throw new S3Error(400, 'InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
    }
    const actual = computeChecksum(algorithm, body);
    if (actual !== undefined && actual !== value) {
      throw new S3Error(400, 'BadDigest', `The ${algorithm} you specified did not match the calculated checksum.`);
    }
    found = { algorithm, value };
  }
  return found;
}

function computeChecksum(algorithm: ChecksumAlgorithm, body: Buffer): string | undefined {
  switch (algorithm) {
    case 'CRC32':
      return u32(crc32(body));
    case 'CRC32C':
      return u32(crc32c(body));
    case 'SHA1':
      return createHash('sha1').update(body).digest('base64');
    case 'SHA256':
      return createHash('sha256').update(body).digest('base64');
    case 'CRC64NVME':
      return undefined; // stored and returned, not verified
  }
}

function u32(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b.toString('base64');
}

let crc32cTable: Uint32Array | undefined;
function crc32c(data: Buffer): number {
  if (crc32cTable === undefined) {
    crc32cTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
      crc32cTable[i] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const byte of data) crc = (crc32cTable[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
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

// ---------------------------------------------------------------------------------------------
// GetObject / HeadObject

function getObject(store: Store, ctx: RequestContext, head: boolean): Reply {
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

// ---------------------------------------------------------------------------------------------
// ListObjectsV2

function listObjectsV2(store: Store, ctx: RequestContext): Reply {
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

// ---------------------------------------------------------------------------------------------
// DeleteObjects

async function deleteObjects(store: Store, ctx: RequestContext): Promise<Reply> {
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

// ---------------------------------------------------------------------------------------------
// Store (memory, optionally mirrored on disk)

class Store {
  readonly buckets = new Map<string, Bucket>();
  /** Disk writes per bucket/key, chained so that they land in commit order. */
  private readonly writes = new Map<string, Promise<void>>();

  constructor(private readonly dataDir: string | undefined) {}

  bucket(name: string): Bucket {
    const bucket = this.buckets.get(name);
    if (bucket === undefined) throw new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: name });
    return bucket;
  }

  sortedKeys(bucket: Bucket): string[] {
    bucket.sortedKeys ??= [...bucket.objects.keys()].sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
    return bucket.sortedKeys;
  }

  async createBucket(name: string): Promise<void> {
    const createdAt = Date.now();
    this.buckets.set(name, { name, createdAt, objects: new Map(), sortedKeys: undefined, inFlight: new Map() });
    if (this.dataDir !== undefined) {
      const dir = this.bucketDir(name);
      await mkdir(join(dir, 'objects'), { recursive: true });
      await writeFile(join(dir, 'bucket.json'), JSON.stringify({ name, createdAt }));
    }
  }

  async deleteBucket(name: string): Promise<void> {
    const bucket = this.bucket(name);
    if (bucket.objects.size > 0) {
      throw new S3Error(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty', { BucketName: name });
    }
    this.buckets.delete(name);
    if (this.dataDir !== undefined) await rm(this.bucketDir(name), { recursive: true, force: true });
  }

  /** Commits synchronously in memory; the returned promise settles when the disk copy is written. */
  put(bucket: Bucket, object: StoredObject): Promise<void> {
    if (!bucket.objects.has(object.key)) bucket.sortedKeys = undefined;
    bucket.objects.set(object.key, object);
    return this.persist(bucket.name, object.key, object);
  }

  delete(bucketName: string, key: string): Promise<void> {
    const bucket = this.bucket(bucketName);
    if (!bucket.objects.delete(key)) return Promise.resolve();
    bucket.sortedKeys = undefined;
    for (const other of bucket.inFlight.get(key) ?? []) other.conflicted = true;
    return this.persist(bucketName, key, undefined);
  }

  async flush(): Promise<void> {
    await Promise.allSettled([...this.writes.values()]);
  }

  private bucketDir(name: string): string {
    return join(this.dataDir ?? '', 'buckets', name);
  }

  private persist(bucketName: string, key: string, object: StoredObject | undefined): Promise<void> {
    if (this.dataDir === undefined) return Promise.resolve();
    const id = `${bucketName}/${key}`;
    const previous = this.writes.get(id) ?? Promise.resolve();
    const next = previous.then(() => this.writeToDisk(bucketName, key, object));
    const tracked = next.finally(() => {
      if (this.writes.get(id) === tracked) this.writes.delete(id);
    });
    this.writes.set(
      id,
      tracked.catch(() => undefined),
    );
    return next;
  }

  /**
   * Layout: `buckets/<bucket>/objects/<sha256(key)>.json` (the sidecar: key and metadata) names
   * its body file `<sha256(key)>.<random>.bin`. The sidecar is written last, by rename, so a
   * crash leaves either the old object or the new one, never a mix.
   */
  private async writeToDisk(bucketName: string, key: string, object: StoredObject | undefined): Promise<void> {
    const dir = join(this.bucketDir(bucketName), 'objects');
    const base = createHash('sha256').update(key, 'utf8').digest('hex');
    const sidecar = join(dir, `${base}.json`);
    const old = await readFile(sidecar, 'utf8')
      .then((t) => (JSON.parse(t) as { bodyFile?: string }).bodyFile)
      .catch(() => undefined);
    if (object === undefined) {
      await rm(sidecar, { force: true });
    } else {
      const bodyFile = `${base}.${randomBytes(6).toString('hex')}.bin`;
      await writeFile(join(dir, bodyFile), object.body);
      const { body: _body, ...meta } = object;
      const tmp = `${sidecar}.${randomBytes(6).toString('hex')}.tmp`;
      await writeFile(tmp, JSON.stringify({ ...meta, size: object.body.length, bodyFile }));
      await rename(tmp, sidecar);
    }
    if (old !== undefined) await rm(join(dir, old), { force: true });
  }

  /**
   * Loads the kept buckets and objects. One that cannot be loaded (unreadable or invalid
   * `bucket.json` or sidecar, missing or wrong-sized body) is reported to `problem` and its files
   * are kept: they may be someone's only copy. Only leftovers of interrupted writes (`.tmp`
   * files, bodies no sidecar names) are removed.
   */
  async load(problem: (message: string) => void): Promise<void> {
    if (this.dataDir === undefined) return;
    const root = join(this.dataDir, 'buckets');
    await mkdir(root, { recursive: true });
    for (const name of await readdir(root)) {
      const dir = join(root, name);
      let info: { name: string; createdAt: number };
      try {
        info = JSON.parse(await readFile(join(dir, 'bucket.json'), 'utf8')) as typeof info;
        if (typeof info?.name !== 'string') throw new Error('it names no bucket');
      } catch (err) {
        problem(
          `cannot load bucket directory ${dir}: ${join(dir, 'bucket.json')}: ${describeLoadError(err)}; its files are kept, the bucket is not served`,
        );
        continue;
      }
      const bucket: Bucket = { name: info.name, createdAt: info.createdAt, objects: new Map(), sortedKeys: undefined, inFlight: new Map() };
      this.buckets.set(bucket.name, bucket);
      const objectsDir = join(dir, 'objects');
      await mkdir(objectsDir, { recursive: true });
      const files = await readdir(objectsDir);
      const referenced = new Set<string>();
      const unloadable = new Set<string>();
      for (const file of files.filter((f) => f.endsWith('.json'))) {
        const path = join(objectsDir, file);
        let meta: Omit<StoredObject, 'body'> & { size: number; bodyFile: string };
        try {
          meta = JSON.parse(await readFile(path, 'utf8')) as typeof meta;
          if (typeof meta?.key !== 'string' || typeof meta.bodyFile !== 'string' || typeof meta.size !== 'number') {
            throw new Error('it lacks key, bodyFile or size');
          }
        } catch (err) {
          problem(
            `cannot load kept object ${path} in bucket ${bucket.name}: ${describeLoadError(err)}; its files are kept, the object is not served`,
          );
          // Its body files (`<sha256(key)>.<random>.bin`) are kept with it.
          unloadable.add(file.slice(0, -'.json'.length));
          continue;
        }
        // Whatever happens next, the body file is the object's: never a leftover to remove.
        referenced.add(meta.bodyFile);
        let body: Buffer | undefined;
        let unreadable: string | undefined;
        try {
          body = await readFile(join(objectsDir, meta.bodyFile));
        } catch (err) {
          unreadable = describeLoadError(err);
        }
        if (body === undefined || body.length !== meta.size) {
          const why =
            body === undefined
              ? `its body ${meta.bodyFile} cannot be read (${unreadable})`
              : `its body ${meta.bodyFile} has ${body.length} bytes, expected ${meta.size}`;
          problem(
            `cannot load kept object ${meta.key} in bucket ${bucket.name}: ${why}; its files are kept (${path}), the object is not served`,
          );
          continue;
        }
        const { size: _size, bodyFile: _bodyFile, ...rest } = meta;
        bucket.objects.set(meta.key, { ...rest, body });
      }
      // Leftovers of writes that a crash interrupted.
      for (const file of files) {
        const leftover = file.endsWith('.bin') && !referenced.has(file) && !unloadable.has(file.slice(0, file.indexOf('.')));
        if (leftover || file.endsWith('.tmp')) await rm(join(objectsDir, file), { force: true });
      }
    }
  }
}

function describeLoadError(err: unknown): string {
  if (err instanceof SyntaxError) return `not valid JSON (${err.message})`;
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'missing' : (err as Error).message;
}

// ---------------------------------------------------------------------------------------------
// Helpers

async function readBody(ctx: RequestContext): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
  ctx.bodyConsumed = true;
  return Buffer.concat(chunks);
}

async function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded || req.destroyed) return;
  try {
    for await (const _ of req) {
      // discard
    }
  } catch {
    // the client went away
  }
}

function errorReply(err: unknown, ctx: RequestContext | undefined, method: string, requestId: string): Reply {
  const e =
    err instanceof S3Error
      ? err
      : new S3Error(
          500,
          'InternalError',
          `We encountered an internal error. Please try again. (${err instanceof Error ? err.message : String(err)})`,
        );
  const extra: Record<string, string> = { ...e.extra };
  if (ctx !== undefined) extra['Resource'] = ctx.resource;
  if (method === 'HEAD') return { status: e.status, headers: e.headers };
  return {
    status: e.status,
    headers: { 'content-type': 'application/xml', ...e.headers },
    body: XML_DECL + errorXml(e.code, e.message, extra, requestId),
  };
}

function errorXml(code: string, message: string, extra: Readonly<Record<string, string>>, requestId: string): string {
  const fields = Object.entries(extra)
    .map(([k, v]) => `<${k}>${xml(v)}</${k}>`)
    .join('');
  return `<Error><Code>${xml(code)}</Code><Message>${xml(message)}</Message>${fields}<RequestId>${requestId}</RequestId><HostId>${Buffer.from(requestId).toString('base64')}</HostId></Error>`;
}

function xmlReply(status: number, body: string): Reply {
  return { status, headers: { 'content-type': 'application/xml' }, body: XML_DECL + body };
}

function xml(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters go out as character references (XML 1.0 cannot carry them literally).
  return s.replace(/[&<>"'\u0000-\u0008\u000b\u000c\u000e-\u001f\r]/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      case "'":
        return '&apos;';
      default:
        return `&#x${c.charCodeAt(0).toString(16)};`;
    }
  });
}

function unxml(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|apos|#x[0-9a-fA-F]+|#\d+);/g, (_, e: string) => {
    switch (e) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default:
        return String.fromCodePoint(e.startsWith('#x') ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1)));
    }
  });
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

function etagMatches(condition: string, etag: string): boolean {
  const norm = (s: string): string => s.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
  return condition.split(',').some((c) => c.trim() === '*' || norm(c) === norm(etag));
}

function optional<K extends string, V>(name: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: V };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}
