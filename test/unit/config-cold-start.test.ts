/**
 * What the configuration loader does at cold start: both Lambda functions call `loadConfig` at
 * module initialisation, so anything expensive it does is paid on every cold start. The first
 * `Intl.DateTimeFormat` of a process loads ICU's locale and zone data (30-60 ms on the
 * development machine, as much as the two SDK clients' own initialisation), so a UTC layout,
 * the default, must not build one just to check that "UTC" is a time zone.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../lib/config/config.ts';
import { createLayout, DEFAULT_LAYOUT } from '../../lib/layout/layout.ts';

const required = { SINK_BUCKET: 'my-sink-bucket', LEDGER_TABLE: 'sink-ledger' };

/** Counts the `Intl.DateTimeFormat`s built while `run` runs (the real constructor still runs). */
function dateTimeFormatsBuiltBy(run: () => unknown): number {
  const spy = vi.spyOn(Intl, 'DateTimeFormat');
  try {
    run();
    return spy.mock.calls.length;
  } finally {
    spy.mockRestore();
  }
}

describe('configuration at cold start', () => {
  afterEach(() => vi.restoreAllMocks());

  it.each([
    ['the default configuration', {}],
    ['the time partitioner in UTC', { SINK_PARTITIONER: 'time', SINK_TIMESTAMP_EXTRACTOR: 'Record' }],
    ['SINK_TIMEZONE=UTC', { SINK_PARTITIONER: 'time', SINK_TIMEZONE: 'UTC' }],
    ['SINK_TIMEZONE=Etc/UTC', { SINK_PARTITIONER: 'time', SINK_TIMEZONE: 'Etc/UTC' }],
  ])('%s: loading it and building its layout creates no Intl.DateTimeFormat', (_, settings) => {
    const built = dateTimeFormatsBuiltBy(() => {
      const config = loadConfig({ ...required, ...settings });
      createLayout(config.layout ?? DEFAULT_LAYOUT);
    });
    expect(built).toBe(0);
  });

  it('still checks any other time zone with Intl, and words the problem as before', () => {
    expect(
      dateTimeFormatsBuiltBy(() => loadConfig({ ...required, SINK_PARTITIONER: 'time', SINK_TIMEZONE: 'Europe/Paris' })),
    ).toBeGreaterThan(0);
    expect(() => loadConfig({ ...required, SINK_TIMEZONE: 'utc/Nowhere' })).toThrow(
      'Invalid sink configuration: SINK_TIMEZONE: "utc/Nowhere" is not an IANA time zone (e.g. UTC, Europe/Paris)',
    );
  });
});
