/** The S3 emulator's requests: path-style parsing, reading and draining bodies, `aws-chunked` decoding. */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { S3Error } from './replies.ts';

/** One request, parsed: method, bucket, key, query and whether its body has been read. */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly method: string;
  readonly bucket: string;
  readonly key: string | undefined;
  readonly query: URLSearchParams;
  readonly resource: string;
  /** Set once the request body has been read (or drained). */
  bodyConsumed: boolean;
}

/** Parses a path-style request (`/bucket/key?query`); 400 InvalidURI when it cannot be decoded. */
export function parseRequest(req: IncomingMessage, method: string): RequestContext {
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

/** Reads the whole request body and marks it consumed. */
export async function readBody(ctx: RequestContext): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
  ctx.bodyConsumed = true;
  return Buffer.concat(chunks);
}

/** Reads and discards what is left of a request's body, so that the connection can be reused. */
export async function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded || req.destroyed) return;
  try {
    for await (const _ of req) {
      // discard
    }
  } catch {
    // the client went away
  }
}

/** A header's value, repeated values joined by commas. */
export function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/** Reads a PUT body, decoding `aws-chunked` framing and collecting its trailers. */
export async function readPutBody(ctx: RequestContext): Promise<{ body: Buffer; trailers: Record<string, string> }> {
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
