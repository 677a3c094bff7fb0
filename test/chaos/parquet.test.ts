import { describe, expect, it } from 'vitest';
import type { Scenario } from '../support/chaos.ts';
import { runAll, useChaosWorld, violations } from '../support/chaos-world.ts';
import { checkLayout, hourlyPath } from '../../testkit/read-back.ts';

/**
 * The crash-schedule suite with Parquet objects (hyparquet-writer), read back with hyparquet,
 * an independent reader: a crash at every port call, landed or not, on an hourly layout (UTC)
 * with rotation at 5 records. Values that are not JSON objects (text, bytes) are poison in
 * Parquet and go to the dead letters (errors.tolerance=all); tombstones are rows with null value
 * columns. Codecs by seed: GZIP, UNCOMPRESSED, ZSTD (Parquet's own page codecs).
 */
describe('chaos: Parquet', () => {
  const world = useChaosWorld();
  const BASE = Date.UTC(2026, 10, 26, 22, 40);
  it('loses and duplicates nothing over 88 crash schedules (Parquet, hourly, rotation, dead letters)', async () => {
    const scenarios = [1, 2].flatMap((seed) =>
      [0, 2].flatMap((crashInvocation) =>
        Array.from({ length: 11 }, (_, crashAt) =>
          [false, true].map(
            (landed): Scenario => ({
              name: `parquet-crash-${seed}-${crashInvocation}-${crashAt}-${landed ? 'landed' : 'lost'}`,
              seed: 80_000 + seed * 1000 + crashInvocation * 100 + crashAt * 2 + (landed ? 1 : 0),
              partitions: 2,
              records: 30,
              maxBatch: 12,
              jsonOnly: true,
              env: { SINK_FORMAT: 'parquet', SINK_ERRORS_TOLERANCE: 'all', SINK_PARTITIONER: 'time', SINK_ROTATE_MAX_RECORDS: '5' },
              timestamps: (offset) => BASE + offset * 4 * 60_000,
              crash: { invocation: crashInvocation, at: crashAt, landed },
            }),
          ),
        ).flat(),
      ),
    );
    const results = await runAll(world(), scenarios);
    expect(violations(results)).toEqual([]);
    expect(
      results.flatMap(({ scenario, result }) =>
        checkLayout(result.delivered, result.prefix, { path: hourlyPath(0), maxRecords: 5 }).map((p) => `${scenario.name}: ${p}`),
      ),
    ).toEqual([]);
    expect(results.every(({ result }) => result.delivered.every((d) => d.key.endsWith('.parquet')))).toBe(true);
    expect(results.every(({ result }) => result.deadLetters !== undefined && result.deadLetters.expected > 0)).toBe(true);
    expect(results.filter(({ result }) => result.crashes === 0).map(({ scenario }) => scenario.name)).toEqual([]);
    console.info(
      `parquet crash schedules: ${scenarios.length} run, ${results.reduce((n, r) => n + r.result.delivered.length, 0)} rows read back`,
    );
  });
});
