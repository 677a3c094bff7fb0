import { loadConfig, type SinkConfig } from '../../lib/config/config.ts';

/** A valid configuration for tests, with overrides in environment-variable form. */
export function testConfig(env: Record<string, string> = {}): SinkConfig {
  return loadConfig({ SINK_BUCKET: 'sink-bucket', LEDGER_TABLE: 'sink-ledger', ...env });
}
