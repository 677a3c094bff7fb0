import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/config.ts';
import { ConfigurationError } from '../../lib/core/errors.ts';

const required = { SINK_BUCKET: 'my-sink-bucket', LEDGER_TABLE: 'sink-ledger' };

describe('configuration from the environment', () => {
  it('applies the documented defaults', () => {
    expect(loadConfig(required)).toEqual({
      bucket: 'my-sink-bucket',
      prefix: 'topics/',
      ledgerTable: 'sink-ledger',
      format: 'jsonl',
      compression: 'gzip',
      errorsTolerance: 'none',
      deadLetterPrefix: 'dead-letters/',
      valueConverter: 'auto',
      reportBatchItemFailures: false,
      maxConcurrency: 16,
      aws: { region: undefined, s3Endpoint: undefined, dynamoDbEndpoint: undefined },
    });
  });

  it('reads every setting, adds the trailing slash to prefixes and prefers service endpoints', () => {
    const config = loadConfig({
      ...required,
      SINK_PREFIX: 'raw/kafka',
      SINK_COMPRESSION: 'zstd',
      SINK_ERRORS_TOLERANCE: 'all',
      SINK_DEAD_LETTER_PREFIX: 'dlq',
      SINK_VALUE_CONVERTER: 'json',
      SINK_REPORT_BATCH_ITEM_FAILURES: 'true',
      SINK_MAX_CONCURRENCY: '4',
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:1000',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:2000',
    });
    expect(config).toMatchObject({
      prefix: 'raw/kafka/',
      deadLetterPrefix: 'dlq/',
      compression: 'zstd',
      errorsTolerance: 'all',
      valueConverter: 'json',
      reportBatchItemFailures: true,
      maxConcurrency: 4,
      aws: { region: 'eu-west-1', s3Endpoint: 'http://127.0.0.1:2000', dynamoDbEndpoint: 'http://127.0.0.1:1000' },
    });
  });

  it.each([
    [{}, 'SINK_BUCKET is required'],
    [{ SINK_BUCKET: 'b' }, 'SINK_BUCKET must be an S3 bucket name'],
    [{ SINK_BUCKET: 'bucket' }, 'LEDGER_TABLE is required'],
    [{ ...required, SINK_COMPRESSION: 'lz4' }, 'SINK_COMPRESSION'],
    [{ ...required, SINK_ERRORS_TOLERANCE: 'some' }, 'SINK_ERRORS_TOLERANCE'],
    [{ ...required, SINK_REPORT_BATCH_ITEM_FAILURES: 'yes' }, 'SINK_REPORT_BATCH_ITEM_FAILURES'],
    [{ ...required, SINK_MAX_CONCURRENCY: '0' }, 'SINK_MAX_CONCURRENCY'],
    [{ ...required, SINK_PREFIX: '/abs' }, 'SINK_PREFIX must not start with "/"'],
    [{ ...required, SINK_DEAD_LETTER_PREFIX: 'topics/dead' }, 'must lie outside SINK_PREFIX'],
    [{ ...required, SINK_PREFIX: '' }, 'SINK_PREFIX must not be empty'],
    [{ ...required, AWS_ENDPOINT_URL_S3: 'localhost:4566' }, 'AWS_ENDPOINT_URL_S3'],
    [{ ...required, SINK_COMPRESION: 'none' }, 'SINK_COMPRESION is not a setting of this sink'],
  ])('rejects %j with one clear error', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigurationError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('reports every problem at once', () => {
    const error = (() => {
      try {
        loadConfig({ SINK_COMPRESSION: 'lz4', SINK_TYPO: 'x' });
      } catch (caught) {
        return caught as Error;
      }
    })();
    expect(error?.message).toContain('SINK_BUCKET is required');
    expect(error?.message).toContain('LEDGER_TABLE is required');
    expect(error?.message).toContain('SINK_COMPRESSION');
    expect(error?.message).toContain('SINK_TYPO is not a setting');
  });
});
