/**
 * Reading the JSON value of a record for the time and field partitioners (lib/layout/layout.ts).
 * Problems are described, never quoted: record data stays out of logs and error messages.
 */
import { Buffer } from 'node:buffer';
import type { KafkaRecord } from '../core/model.ts';

/** An ISO-8601 date or date-time with an explicit zone (a zone-less time would depend on the machine's). */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/;

/** Reads a dotted path from a parsed JSON value (own fields only: `constructor` is not a field of `{}`). */
export function fieldOf(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const name of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current) || !Object.hasOwn(current, name)) return undefined;
    current = (current as Record<string, unknown>)[name];
  }
  return current;
}

/** What `parseValue` gives for a null value or one that is not JSON. */
export const NOT_JSON = Symbol('not JSON');

/** The record's value parsed as JSON (UTF-8), or `NOT_JSON`. */
export function parseValue(record: KafkaRecord): unknown {
  if (record.value === null) return NOT_JSON;
  try {
    return JSON.parse(Buffer.from(record.value.buffer, record.value.byteOffset, record.value.byteLength).toString('utf8'));
  } catch {
    return NOT_JSON;
  }
}

/**
 * A time-field value as epoch ms, or a reason it is not one. Reasons describe the value, never
 * quote it: record data stays out of logs and error messages.
 */
export function timeOfField(value: unknown): number | string {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : 'a number that is not whole epoch milliseconds';
  if (typeof value === 'string') {
    if (!ISO_8601.test(value)) return 'a string that is not epoch milliseconds or an ISO-8601 date-time with a zone';
    const ms = Date.parse(value.replace(' ', 'T'));
    return Number.isFinite(ms) ? ms : 'a string that is not a valid date-time';
  }
  return value === undefined ? 'missing' : `a ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}, not a time`;
}

/** A field value as one path component (percent-encoded), or a reason it cannot be one. */
export function pathComponent(value: unknown): string | { problem: string } {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' && Number.isFinite(value)) text = String(value);
  else if (typeof value === 'boolean') text = String(value);
  else
    return {
      problem:
        value === undefined
          ? 'missing'
          : `a ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}, not a string, number or boolean`,
    };
  if (text === '') return { problem: 'an empty string' };
  // A lone surrogate (a JSON text may escape one: "\ud800") has no UTF-8; encodeURIComponent would throw.
  if (!text.isWellFormed()) return { problem: 'a string that is not valid Unicode (a lone surrogate)' };
  // encodeURIComponent leaves A-Z a-z 0-9 - _ . ! ~ * ' ( ); keep only the first four unescaped.
  const encoded = encodeURIComponent(text).replace(/[!~*'()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  if (encoded === '.' || encoded === '..') return { problem: 'a "." or "..", which cannot be a directory name' };
  if (encoded.length > 256) return { problem: 'longer than 256 characters once encoded' };
  return encoded;
}
