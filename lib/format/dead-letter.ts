/**
 * The dead-letter document for a poison record (`errors.tolerance=all`): the record whole and
 * losslessly (key, value and header values as base64, null kept apart from empty) with the error
 * that made it poison. Deterministic: fixed field order and layout, so the same record and error
 * give the same bytes.
 */
import { Buffer } from 'node:buffer';
import type { KafkaRecord } from '../core/model.ts';

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function encodeDeadLetter(record: KafkaRecord, error: Error): Uint8Array {
  const document = {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    timestampType: record.timestampType,
    key: record.key === null ? null : base64(record.key),
    value: record.value === null ? null : base64(record.value),
    headers: record.headers.map((h) => ({ key: h.key, value: base64(h.value) })),
    error: { name: error.name, message: error.message },
  };
  // JSON.stringify writes lone surrogates (possible in header names) as \u escapes: lossless.
  return Buffer.from(`${JSON.stringify(document, null, 2)}\n`, 'utf8');
}
