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
 *
 * This file holds the server, its counters and fault hook; the rest is in `./s3/`: `request.ts`
 * (parsing, bodies, aws-chunked), `routing.ts` (operation and handler), `buckets.ts`,
 * `objects.ts` (Put/Get/Head, conditional writes, DeleteObjects), `listing.ts` (ListObjectsV2),
 * `checksums.ts`, `replies.ts` (XML replies and errors), `store.ts` (memory and disk), `model.ts`.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { S3Operation } from './s3/model.ts';
import { errorReply, errorXml, type Reply, S3Error, XML_DECL } from './s3/replies.ts';
import { drain, parseRequest, type RequestContext } from './s3/request.ts';
import { dispatch, operationOf } from './s3/routing.ts';
import { Store } from './s3/store.ts';

export type { S3Operation } from './s3/model.ts';
export { decodeAwsChunked } from './s3/request.ts';

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
