/**
 * An HTTP reverse proxy on a random loopback port, in front of DynamoDB Local, that injects
 * throttling, server errors and lost replies for chaos tests.
 */
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type DynamoFault =
  | { readonly kind: 'error'; readonly status: 400; readonly code: 'ProvisionedThroughputExceededException' }
  | { readonly kind: 'error'; readonly status: 400; readonly code: 'ThrottlingException' }
  | { readonly kind: 'error'; readonly status: 500; readonly code: 'InternalServerError' }
  /** Forward the request, let it land, then answer 500 as if the reply had been lost. */
  | { readonly kind: 'lost-reply' };

/** Decides, per request, whether to inject a fault; `operation` is e.g. `UpdateItem`. */
export type DynamoFaultHook = (req: { readonly operation: string }) => DynamoFault | undefined;

export interface FaultProxyOptions {
  /** The upstream, e.g. DynamoDB Local's endpoint `http://127.0.0.1:8000`. */
  readonly target: string;
  readonly faults?: DynamoFaultHook;
}

export interface FaultProxy {
  readonly endpoint: string;
  readonly port: number;
  /** Requests seen per operation (faulted ones included). */
  readonly counters: Readonly<Record<string, number>>;
  requestCount(operation?: string): number;
  setFaults(hook: DynamoFaultHook | undefined): void;
  stop(): Promise<void>;
}

const MESSAGES: Record<string, string> = {
  ProvisionedThroughputExceededException:
    'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.',
  ThrottlingException: 'Rate of requests exceeds the allowed throughput.',
  InternalServerError: 'Internal server error',
};

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  let faults = options.faults;
  const counters = new Map<string, number>();

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const amzTarget = req.headers['x-amz-target'];
    const operation = (Array.isArray(amzTarget) ? amzTarget[0] : amzTarget)?.split('.').pop() ?? 'Unknown';
    counters.set(operation, (counters.get(operation) ?? 0) + 1);
    const fault = faults?.({ operation });
    if (fault?.kind === 'error') {
      sendError(res, fault.status, fault.code);
      return;
    }
    let upstream: { status: number; headers: OutgoingHttpHeaders; body: Buffer };
    try {
      upstream = await forward(target, req, body);
    } catch (err) {
      sendError(res, 500, 'InternalServerError', `Fault proxy: upstream failed: ${String(err)}`);
      return;
    }
    if (fault?.kind === 'lost-reply') {
      sendError(res, 500, 'InternalServerError');
      return;
    }
    res.writeHead(upstream.status, upstream.headers);
    res.end(upstream.body);
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    get counters() {
      return Object.fromEntries(counters);
    },
    requestCount(operation?: string): number {
      if (operation !== undefined) return counters.get(operation) ?? 0;
      let total = 0;
      for (const n of counters.values()) total += n;
      return total;
    },
    setFaults(hook) {
      faults = hook;
    },
    async stop() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
    },
  };
}

function sendError(res: ServerResponse, status: number, code: string, message = MESSAGES[code] ?? code): void {
  const body = JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${code}`, message });
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(body),
    'x-amzn-requestid': `FAULT${Date.now().toString(36).toUpperCase()}`,
  });
  res.end(body);
}

function forward(target: URL, req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: OutgoingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers: OutgoingHttpHeaders = { ...req.headers, host: target.host, 'content-length': body.length };
    delete headers['transfer-encoding'];
    delete headers['connection'];
    const out = request(
      { protocol: target.protocol, hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers },
      (upstream) => {
        const chunks: Buffer[] = [];
        upstream.on('data', (c: Buffer) => chunks.push(c));
        upstream.on('error', reject);
        upstream.on('end', () => {
          const responseHeaders: OutgoingHttpHeaders = { ...upstream.headers };
          delete responseHeaders['transfer-encoding'];
          delete responseHeaders['connection'];
          const buf = Buffer.concat(chunks);
          responseHeaders['content-length'] = buf.length;
          resolve({ status: upstream.statusCode ?? 502, headers: responseHeaders, body: buf });
        });
      },
    );
    out.on('error', reject);
    out.end(body);
  });
}
