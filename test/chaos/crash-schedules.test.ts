import { describe, expect, it } from 'vitest';
import type { Scenario } from '../support/chaos.ts';
import { runAll, useChaosWorld, violations } from '../support/chaos-world.ts';

/**
 * A process crash at every port call of an invocation (ledger reads and writes, object PUTs and
 * HEADs), with the request at the crash point landed (reply lost) or never sent, in early and
 * later invocations, followed by redeliveries with other batch boundaries until every partition
 * is drained. The read-back must find every record exactly once.
 */
describe('chaos: a crash at every step of the protocol', () => {
  const world = useChaosWorld();

  const schedules = (options: {
    readonly label: string;
    readonly seeds: readonly number[];
    readonly invocations: readonly number[];
    readonly steps: number;
    readonly env?: Record<string, string>;
    readonly jsonOnly?: boolean;
  }): Scenario[] =>
    options.seeds.flatMap((seed) =>
      options.invocations.flatMap((crashInvocation) =>
        Array.from({ length: options.steps }, (_, crashAt) =>
          [false, true].map(
            (landed): Scenario => ({
              name: `${options.label}-${seed}-${crashInvocation}-${crashAt}-${landed ? 'landed' : 'lost'}`,
              seed: seed * 1000 + crashInvocation * 100 + crashAt * 2 + (landed ? 1 : 0),
              partitions: 3,
              records: 36,
              maxBatch: 9,
              env: options.env,
              jsonOnly: options.jsonOnly,
              crash: { invocation: crashInvocation, at: crashAt, landed },
            }),
          ),
        ).flat(),
      ),
    );

  it('loses and duplicates nothing over 216 crash schedules (JSON Lines, gzip/zstd/none)', async () => {
    const scenarios = schedules({ label: 'crash', seeds: [1, 2, 3, 4], invocations: [0, 1, 2], steps: 9 });
    const results = await runAll(world(), scenarios);
    expect(violations(results)).toEqual([]);
    const crashed = results.filter(({ result }) => result.crashes > 0).length;
    const unfired = results.filter(({ result }) => result.crashes === 0).map(({ scenario }) => scenario.name);
    expect(unfired).toEqual([]);
    expect(crashed).toBe(scenarios.length);
    console.info(
      `crash schedules: ${scenarios.length} run, ${crashed} crashed, ${results.reduce((n, r) => n + r.result.invocations, 0)} invocations`,
    );
  });

  it('loses and duplicates nothing over 88 crash schedules with poison records dead-lettered', async () => {
    const scenarios = schedules({
      label: 'crash-dlq',
      seeds: [5, 6],
      invocations: [0, 2],
      steps: 11,
      jsonOnly: true,
      env: { SINK_VALUE_CONVERTER: 'json', SINK_ERRORS_TOLERANCE: 'all' },
    });
    const results = await runAll(world(), scenarios);
    expect(violations(results)).toEqual([]);
    expect(results.every(({ result }) => result.deadLetters !== undefined && result.deadLetters.expected > 0)).toBe(true);
    console.info(`dead-letter crash schedules: ${scenarios.length} run`);
  });

  it('loses and duplicates nothing when the naming settings change between a crash and its retry (72 schedules)', async () => {
    // The retry after the crash runs with other settings, as after a deploy: compression, layout
    // or time zone. A crash between the object write and the commit leaves an object under the old
    // names; the retry must adopt it, not write the same records under the new ones.
    const changes: ReadonlyArray<readonly [Record<string, string>, Record<string, string>]> = [
      [{ SINK_COMPRESSION: 'gzip' }, { SINK_COMPRESSION: 'zstd' }],
      [{}, { SINK_PARTITIONER: 'time', SINK_PATH_FORMAT: "'hour'=HH" }],
      [{ SINK_PARTITIONER: 'time' }, { SINK_PARTITIONER: 'time', SINK_TIMEZONE: 'Asia/Kolkata' }],
      [{ SINK_COMPRESSION: 'none' }, { SINK_COMPRESSION: 'gzip', SINK_PARTITIONER: 'time' }],
    ];
    const scenarios = schedules({ label: 'settings', seeds: [8, 9], invocations: [0, 1], steps: 9 }).map((scenario, index): Scenario => {
      const [before, after] = changes[index % changes.length]!;
      return {
        ...scenario,
        env: before,
        envFor: (invocation) => (invocation > scenario.crash!.invocation ? after : undefined),
      };
    });
    const results = await runAll(world(), scenarios);
    expect(violations(results)).toEqual([]);
    expect(results.every(({ result }) => result.crashes > 0)).toBe(true);
    console.info(`settings-change crash schedules: ${scenarios.length} run`);
  });

  it('records every range the source discarded, and delivers everything else exactly once (36 schedules)', async () => {
    const scenarios = schedules({ label: 'skips', seeds: [10], invocations: [0, 1], steps: 9 }).map(
      (scenario): Scenario => ({ ...scenario, skipRate: 0.3, records: 48 }),
    );
    const results = await runAll(world(), scenarios);
    expect(violations(results)).toEqual([]);
    expect(
      results.flatMap(({ scenario, result }) => (result.skipped?.problems ?? []).map((problem) => `${scenario.name}: ${problem}`)),
    ).toEqual([]);
    const discarded = results.reduce((n, { result }) => n + (result.skipped?.records ?? 0), 0);
    expect(discarded).toBeGreaterThan(0);
    console.info(`source-skip crash schedules: ${scenarios.length} run, ${discarded} records discarded and accounted for`);
  });

  it('catches a broken protocol: the ledger advanced before the object is durable loses records', async () => {
    const scenarios = schedules({ label: 'broken', seeds: [7], invocations: [0, 1], steps: 8 }).map(
      (scenario): Scenario => ({
        ...scenario,
        faultsFor: () => ({ ackBeforeDurable: true }),
      }),
    );
    const results = await runAll(world(), scenarios);
    const broken = violations(results);
    expect(broken.length).toBeGreaterThan(0);
    expect(results.some(({ result }) => result.check.lost.length > 0)).toBe(true);
    console.info(`broken protocol: ${broken.length} of ${scenarios.length} schedules lose records`);
  });
});
