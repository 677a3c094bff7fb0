/**
 * JSON Lines, the default format (DESIGN.md, "Output format"): one line per record,
 *
 *   {"topic":…,"partition":…,"offset":…,"timestamp":…,"timestampType":…,"key":…,"value":…,"headers":[…]}
 *
 * A key, value or header value that is UTF-8 JSON is embedded as that JSON, exactly as sent
 * apart from insignificant whitespace; other UTF-8 text becomes a JSON string; other bytes become
 * a base64 string followed by a marker field (`keyEncoding`/`valueEncoding`/`encoding`: "base64").
 * Values are never parsed into objects: the JSON text is checked and copied (see json-text.ts).
 */
import { Buffer, isUtf8 } from 'node:buffer';
import { PoisonRecordError } from '../errors.ts';
import type { KafkaRecord } from '../model.ts';
import { toCompactJson } from './json-text.ts';
import { ValueConverter, type RecordFormat } from './record-format.ts';

export interface JsonLinesOptions {
  /** `auto` (default rules) or `json` (a value that is not UTF-8 JSON is a poison record). */
  readonly valueConverter: ValueConverter;
}

/** A Buffer view of the same memory (no copy). */
function view(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The text of `bytes` if they are valid UTF-8, else undefined. Same result as
 * `new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)` (a BOM is kept as
 * U+FEFF; the tests check the two agree), but several times faster: simdutf validation, then
 * a decode that cannot fail, and no exception on the non-UTF-8 path.
 */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  const buffer = view(bytes);
  return isUtf8(buffer) ? buffer.toString('utf8') : undefined;
}

function toBase64(bytes: Uint8Array): string {
  return view(bytes).toString('base64');
}

/**
 * The JSON for one key, value or header value, followed (for bytes that are not UTF-8) by the
 * marker field `"<marker>":"base64"`.
 */
function bytesJson(bytes: Uint8Array | null, marker: string): string {
  if (bytes === null) return 'null';
  const text = decodeUtf8(bytes);
  if (text === undefined) return `"${toBase64(bytes)}","${marker}":"base64"`;
  return toCompactJson(text) ?? JSON.stringify(text);
}

/** JSON string literals of the few strings every line repeats (topic, timestampType). */
const quoted = new Map<string, string>();
function quote(s: string): string {
  let q = quoted.get(s);
  if (q === undefined) {
    q = JSON.stringify(s);
    if (quoted.size < 1000) quoted.set(s, q);
  }
  return q;
}

function numberJson(n: number | null): string {
  return n !== null && Number.isFinite(n) ? String(n) : 'null';
}

export function createJsonLinesFormat(options: JsonLinesOptions): RecordFormat {
  const strictJson = options.valueConverter === ValueConverter.json;

  const valueJson = (record: KafkaRecord): string => {
    const value = record.value;
    if (!strictJson || value === null) return bytesJson(value, 'valueEncoding');
    const text = decodeUtf8(value);
    if (text === undefined) throw new PoisonRecordError(record, 'value is not valid UTF-8 (value.converter json)');
    const json = toCompactJson(text);
    if (json === undefined) throw new PoisonRecordError(record, 'value is not valid JSON (value.converter json)');
    return json;
  };

  return {
    name: 'jsonl',
    version: '1',
    extension: '.jsonl',
    contentType: 'application/x-ndjson',

    encodeRecord(record: KafkaRecord): string {
      let headers = '';
      for (const header of record.headers) {
        headers += `${headers === '' ? '' : ','}{"key":${JSON.stringify(header.key)},"value":${bytesJson(header.value, 'encoding')}}`;
      }
      return (
        `{"topic":${quote(record.topic)}` +
        `,"partition":${numberJson(record.partition)}` +
        `,"offset":${numberJson(record.offset)}` +
        `,"timestamp":${numberJson(record.timestamp)}` +
        `,"timestampType":${record.timestampType === null ? 'null' : quote(record.timestampType)}` +
        `,"key":${bytesJson(record.key, 'keyEncoding')}` +
        `,"value":${valueJson(record)}` +
        `,"headers":[${headers}]}`
      );
    },

    join(encoded: readonly string[]): Uint8Array {
      if (encoded.length === 0) return new Uint8Array(0);
      return Buffer.from(`${encoded.join('\n')}\n`, 'utf8');
    },
  };
}
