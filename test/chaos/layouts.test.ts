import { describe, expect, it } from 'vitest';
import { catalog } from '../../lib/ops/catalog.ts';
import { LedgerAdmin } from '../../lib/ops/ledger-admin.ts';
import { S3Inventory } from '../../lib/ops/s3-inventory.ts';
import { reconcile } from '../../lib/ops/verify.ts';
import type { Scenario, ScenarioResult } from '../support/chaos.ts';
import { runAll, useChaosWorld, violations } from '../support/chaos-world.ts';
import { checkLayout, hourlyPath } from '../support/read-back.ts';

/**
 * The chaos suite on a time-based layout with rotation: Hive-style hourly directories in a
 * time zone that is not UTC (Asia/Kolkata, UTC+05:30: the hour boundary is not UTC's), objects
 * cut at 4 records, at 20 minutes of record time from their first record, or at 1 KiB, so one
 * batch gives several objects per partition in several directories. Record timestamps step ~7
 * minutes per offset with jitter (and go backwards sometimes). A crash at every port call,
 * concurrent invocations and late writes; the read-back checks every record exactly once AND
 * every object against the layout (one hour, at most 4 records, under 20 minutes), computed
 * independently of the sink's code; `verify` (catalog + reconcile) must find the chains whole.
 */
describe('chaos: time-based partitioning and rotation', () => {
  const world = useChaosWorld();
  const BASE = Date.UTC(2026, 10, 26, 22, 10);
  const timestamps = (offset: number, random: () => number) => BASE + offset * 7 * 60_000 + Math.round((random() - 0.5) * 6 * 60_000);
  const timeEnv = {
    SINK_PARTITIONER: 'time',
    SINK_TIMEZONE: 'Asia/Kolkata',
    SINK_ROTATE_MAX_RECORDS: '4',
    SINK_ROTATE_INTERVAL_MS: String(20 * 60_000),
  };
  const expectation = { path: hourlyPath(5 * 60 + 30), maxRecords: 4, intervalMs: 20 * 60_000 };

  const layoutViolations = (results: ReadonlyArray<{ scenario: Scenario; result: ScenarioResult }>) =>
    results.flatMap(({ scenario, result }) => checkLayout(result.delivered, result.prefix, expectation).map((p) => `${scenario.name}: ${p}`));

  /** `msk-s3-sink verify`'s reconciliation over each scenario's objects: no gap, no overlap. */
  const verifyErrors = async (results: ReadonlyArray<{ scenario: Scenario; result: ScenarioResult }>) => {
    const w = world();
    const inventory = new S3Inventory({ client: w.s3, bucket: w.bucket });
    const admin = new LedgerAdmin({ client: w.dynamoDb, tableName: w.table });
    const errors: string[] = [];
    let objects = 0;
    for (const { scenario, result } of results) {
      const cataloged = await catalog(inventory, { prefix: result.prefix, topic: result.topic });
      objects += cataloged.length;
      const report = reconcile({ entries: await admin.list({ topic: result.topic }), objects: cataloged });
      errors.push(...report.findings.filter((f) => f.severity === 'error').map((f) => `${scenario.name}: ${f.kind} ${f.message}`));
      const chained = report.partitions.reduce((n, p) => n + p.records, 0);
      const delivered = result.delivered.length;
      if (chained !== delivered) errors.push(`${scenario.name}: the chains hold ${chained} records, S3 ${delivered}`);
    }
    return { errors, objects };
  };

  it('loses, duplicates and misplaces nothing over 198 crash schedules (hourly, Asia/Kolkata, rotation)', async () => {
    const scenarios = [1, 2, 3].flatMap((seed) =>
      [0, 1, 2].flatMap((crashInvocation) =>
        Array.from({ length: 11 }, (_, crashAt) =>
          [false, true].map(
            (landed): Scenario => ({
              name: `layout-crash-${seed}-${crashInvocation}-${crashAt}-${landed ? 'landed' : 'lost'}`,
              seed: 90_000 + seed * 1000 + crashInvocation * 100 + crashAt * 2 + (landed ? 1 : 0),
              partitions: 2,
              records: 30,
              maxBatch: 12,
              env: timeEnv,
              timestamps,
              crash: { invocation: crashInvocation, at: crashAt, landed },
            }),
          ),
        ).flat(),
      ),
    );
    const results = await runAll(world(), scenarios);
    expect(violations(results)).toEqual([]);
    expect(layoutViolations(results)).toEqual([]);
    expect(results.filter(({ result }) => result.crashes === 0).map(({ scenario }) => scenario.name)).toEqual([]);
    const sample = results.filter((_, index) => index % 12 === 0);
    const verified = await verifyErrors(sample);
    expect(verified.errors).toEqual([]);
    const directories = new Set(results.flatMap(({ result }) => result.delivered.map((d) => d.key.slice(0, d.key.lastIndexOf('/')))));
    expect(directories.size).toBeGreaterThan(scenarios.length); // several hours per scenario
    console.info(
      `layout crash schedules: ${scenarios.length} run, ${results.reduce((n, r) => n + r.result.invocations, 0)} invocations, ` +
        `${new Set(results.flatMap(({ result }) => result.delivered.map((d) => d.key))).size} objects; verify on ${sample.length}: ${verified.objects} objects, no error`,
    );
  });

  it('concurrent invocations, crashes and late writes on the time layout (60 schedules; records, interval and 1 KiB rotation)', async () => {
    const scenarios = Array.from(
      { length: 60 },
      (_, index): Scenario => ({
        name: `layout-concurrent-${index}`,
        seed: 95_000 + index,
        partitions: 2,
        records: 30,
        maxBatch: 12,
        concurrency: 2 + (index % 3 === 0 ? 1 : 0),
        rewindRate: 0.2,
        env: index % 2 === 0 ? timeEnv : { ...timeEnv, SINK_ROTATE_MAX_BYTES: '1024' },
        timestamps,
        faultsFor: (_invocation, random) => {
          const roll = random();
          return {
            jitter: { random, maxMs: 3 },
            ...(roll < 0.2 ? { crashAt: Math.floor(random() * 10), landed: random() < 0.5 } : {}),
            ...(roll >= 0.2 && roll < 0.35 ? { crashAt: 2 + Math.floor(random() * 6), holdWrite: true } : {}),
          };
        },
      }),
    );
    const results = await runAll(world(), scenarios);
    expect(violations(results)).toEqual([]);
    expect(layoutViolations(results)).toEqual([]);
    expect(results.reduce((n, r) => n + r.result.crashes, 0)).toBeGreaterThan(20);
    const verified = await verifyErrors(results.filter((_, index) => index % 4 === 0));
    expect(verified.errors).toEqual([]);
    console.info(`layout concurrent schedules: ${scenarios.length}, crashes ${results.reduce((n, r) => n + r.result.crashes, 0)}`);
  });
});
