/**
 * The exact wording of the problems lib/config/config.ts takes from zod's English messages. The module
 * uses zod/mini, which has no locale of its own: these pin that the messages stay the ones
 * classic zod gave (not mini's bare "Invalid input"), byte for byte.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/config.ts';

const required = { SINK_BUCKET: 'my-sink-bucket', LEDGER_TABLE: 'sink-ledger' };

function messageOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a ConfigurationError');
}

describe("configuration problems worded by zod's English messages", () => {
  it.each([
    [{ SINK_MAX_CONCURRENCY: '0' }, 'SINK_MAX_CONCURRENCY: Too small: expected number to be >=1'],
    [{ SINK_MAX_CONCURRENCY: '257' }, 'SINK_MAX_CONCURRENCY: Too big: expected number to be <=256'],
    [{ SINK_MAX_CONCURRENCY: '1.5' }, 'SINK_MAX_CONCURRENCY: Invalid input: expected int, received number'],
    [{ SINK_MAX_CONCURRENCY: 'abc' }, 'SINK_MAX_CONCURRENCY: Invalid input: expected number, received NaN'],
    [{ SINK_ROTATE_MAX_BYTES: '1023' }, 'SINK_ROTATE_MAX_BYTES: Too small: expected number to be >=1024'],
    [{ SINK_FORMAT: 'csv' }, 'SINK_FORMAT: Invalid option: expected one of "jsonl"|"raw"|"parquet"'],
    [{ SINK_COMPRESSION: 'lz4' }, 'SINK_COMPRESSION: Invalid option: expected one of "gzip"|"zstd"|"none"|"snappy"'],
    [{ AWS_ENDPOINT_URL_S3: 'localhost:4566' }, 'AWS_ENDPOINT_URL_S3: Invalid URL'],
    [
      { SINK_TIMEZONE: '' },
      'SINK_TIMEZONE: Too small: expected string to have >=1 characters; SINK_TIMEZONE: "" is not an IANA time zone (e.g. UTC, Europe/Paris)',
    ],
  ])('%j: %s', (settings, problems) => {
    expect(messageOf({ ...required, ...settings })).toBe(`Invalid sink configuration: ${problems}`);
  });

  it('words a too long path format as zod does, then the layout problem', () => {
    expect(messageOf({ ...required, SINK_PATH_FORMAT: 'x'.repeat(600) })).toMatch(
      /^Invalid sink configuration: SINK_PATH_FORMAT: Too big: expected string to have <=512 characters; SINK_PATH_FORMAT: /,
    );
  });
});
