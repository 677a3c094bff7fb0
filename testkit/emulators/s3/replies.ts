/** The S3 emulator's replies: S3's XML error documents and XML bodies. */
import type { OutgoingHttpHeaders } from 'node:http';
import type { RequestContext } from './request.ts';

/** An S3 error reply. */
export class S3Error extends Error {
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

/** What a handler answers: status, headers and an optional body (never sent to a HEAD). */
export interface Reply {
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
  readonly body?: Buffer | string;
}

/** The namespace of S3's XML replies. */
export const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
/** The declaration every XML reply starts with. */
export const XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';

/** S3's error reply for `err` (an `S3Error`, or 500 InternalError for anything else); a HEAD gets the status without a body. */
export function errorReply(err: unknown, ctx: RequestContext | undefined, method: string, requestId: string): Reply {
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

/** S3's `<Error>` document: code, message, the extra fields, request and host ids. */
export function errorXml(code: string, message: string, extra: Readonly<Record<string, string>>, requestId: string): string {
  const fields = Object.entries(extra)
    .map(([k, v]) => `<${k}>${xml(v)}</${k}>`)
    .join('');
  return `<Error><Code>${xml(code)}</Code><Message>${xml(message)}</Message>${fields}<RequestId>${requestId}</RequestId><HostId>${Buffer.from(requestId).toString('base64')}</HostId></Error>`;
}

/** An XML reply with `body` after the declaration. */
export function xmlReply(status: number, body: string): Reply {
  return { status, headers: { 'content-type': 'application/xml' }, body: XML_DECL + body };
}

/** Escapes text for an XML element (control characters as character references). */
export function xml(s: string): string {
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

/** Undoes `xml`'s escapes and numeric character references. */
export function unxml(s: string): string {
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

/** Epoch ms as ISO-8601, as S3 writes times in XML. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Epoch ms as an HTTP date, as S3 writes Last-Modified. */
export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}
