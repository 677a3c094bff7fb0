/**
 * Settings and bindings are validated apart (issue 17, item 3): the settings (format, layout,
 * rotation, prefixes, error handling) on their own, so that the CDK construct and the standalone
 * worker never validate a layout beside a placeholder bucket or table.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig, loadSettings, loadStorageConfig } from '../../lib/config/config.ts';
import { ConfigurationError } from '../../lib/core/errors.ts';
import { resolveStandaloneConfig } from '../../lib/config/worker-config.ts';

const hourly = { SINK_PARTITIONER: 'time', SINK_PATH_FORMAT: "'dt'=yyyy-MM-dd/'hour'=HH", SINK_PARTITION_DURATION_MS: '3600000' };

function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigurationError');
}

describe('the settings alone', () => {
  it('validate a layout with no bucket and no table', () => {
    const settings = loadSettings({ ...hourly, SINK_PREFIX: 'raw' });
    expect(settings.prefix).toBe('raw/');
    expect(settings.layout).toMatchObject({ partitioner: 'time', pathFormat: "'dt'=yyyy-MM-dd/'hour'=HH", partitionDurationMs: 3_600_000 });
    expect(settings).not.toHaveProperty('bucket');
    expect(settings).not.toHaveProperty('ledgerTable');
  });

  it('report the checks across settings, which a missing bucket hides from the whole configuration', () => {
    const env = { SINK_PARTITIONER: 'field' };
    expect(messageOf(() => loadSettings(env))).toBe(
      'Invalid sink configuration: SINK_PARTITION_FIELD: required with SINK_PARTITIONER=field',
    );
    // loadConfig still words it as the function always did: the missing bindings are fatal, so the
    // layout is not checked against them.
    expect(messageOf(() => loadConfig(env))).toBe('Invalid sink configuration: SINK_BUCKET is required; LEDGER_TABLE is required');
  });

  it('do not look at the bindings', () => {
    expect(() => loadSettings({ SINK_BUCKET: 'Not_A_Bucket', LEDGER_TABLE: '?', AWS_ENDPOINT_URL: 'nope' })).not.toThrow();
  });

  it('word each problem as the whole configuration does', () => {
    const env = { SINK_MAX_CONCURRENCY: '0', SINK_FORMAT: 'csv', SINK_DEAD_LETTER_PREFIX: 'topics/x' };
    const whole = messageOf(() => loadConfig({ ...env, SINK_BUCKET: 'my-sink-bucket', LEDGER_TABLE: 'ledger' }));
    expect(messageOf(() => loadSettings(env))).toBe(whole);
  });

  it('still refuse a misspelt setting', () => {
    expect(messageOf(() => loadSettings({ SINK_PARTITIONNER: 'time' }))).toMatch(
      /^Invalid sink configuration: SINK_PARTITIONNER is not a setting/,
    );
  });
});

describe('the storage configuration (settings, bucket, region and endpoints; no ledger table)', () => {
  it('needs the bucket but not the table', () => {
    const config = loadStorageConfig({ SINK_BUCKET: 'my-sink-bucket', AWS_REGION: 'eu-west-1' });
    expect(config).toMatchObject({ bucket: 'my-sink-bucket', prefix: 'topics/', aws: { region: 'eu-west-1' } });
    expect(config).not.toHaveProperty('ledgerTable');
    expect(messageOf(() => loadStorageConfig({}))).toBe('Invalid sink configuration: SINK_BUCKET is required');
  });

  it('is what the standalone worker with a file ledger gets: no placeholder ledger table', () => {
    const config = resolveStandaloneConfig(
      {
        'bootstrap.servers': 'localhost:9092',
        topics: 'orders',
        'group.id': 'g',
        's3.bucket.name': 'b-bucket',
        'offset.storage.file.filename': 'offsets.json',
      },
      {},
      { baseDir: '/tmp' },
    );
    expect(config.ledger).toEqual({ kind: 'file', path: '/tmp/offsets.json' });
    expect(config.sink.bucket).toBe('b-bucket');
    expect(config.sink).not.toHaveProperty('ledgerTable');
  });
});
