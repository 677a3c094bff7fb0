/**
 * Lambda Kafka events in AWS's shape, built from batch slices: the one event builder of the test
 * kit (local mode's simulated mapping, the chaos harness, the protocol tests, the benchmark).
 */
import type { BatchSlice, LogRecord } from './records.ts';

/** Where the events say they come from (for an Amazon MSK event; a self-managed one names no ARN). */
const EVENT_SOURCE_ARN = 'arn:aws:kafka:us-east-1:123456789012:cluster/local/00000000-0000-0000-0000-000000000000-1';

/** Lambda's invocation payload limit for a synchronous invoke, which the mapping respects. */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

/** The Lambda event for a batch, exactly as the event source mapping shapes it (empty slices left out). */
export function toKafkaEvent(
  slices: readonly BatchSlice[],
  eventSource: 'aws:kafka' | 'SelfManagedKafka' = 'aws:kafka',
): Record<string, unknown> & { records: Record<string, unknown[]> } {
  const records: Record<string, unknown[]> = {};
  for (const slice of slices) {
    if (slice.records.length === 0) continue;
    records[`${slice.topic}-${slice.partition}`] = slice.records.map(toEventRecord);
  }
  return {
    eventSource,
    ...(eventSource === 'aws:kafka' ? { eventSourceArn: EVENT_SOURCE_ARN } : {}),
    bootstrapServers: 'b-1.local:9098',
    records,
  };
}

/** One record as the event carries it: key and value base64 (absent when null), headers as given. */
export function toEventRecord(record: LogRecord): Record<string, unknown> {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    timestampType: 'CREATE_TIME',
    ...(record.key ? { key: record.key.toString('base64') } : {}),
    ...(record.value ? { value: record.value.toString('base64') } : {}),
    headers: record.headers ?? [],
  };
}
