import { describe, expect, it } from 'vitest';
import { catalog } from '../../lib/manifest/catalog.ts';
import { LedgerAdmin } from '../../lib/aws/dynamodb-ledger-admin.ts';
import { S3Inventory } from '../../lib/aws/s3-inventory.ts';
import { reconcile } from '../../lib/ops/verify.ts';
import type { Scenario, ScenarioResult } from '../support/chaos.ts';
import type { LogRecord } from '../../testkit/kafka/records.ts';
import { runAll, useChaosWorld, violations } from '../support/chaos-world.ts';
import { checkLayout, hourlyPath } from '../../testkit/read-back.ts';

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
    results.flatMap(({ scenario, result }) =>
      checkLayout(result.delivered, result.prefix, expectation).map((p) => `${scenario.name}: ${p}`),
    );

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

/**
 * The chaos suite on the field partitioner (`SINK_PARTITIONER=field` on a top-level field of the
 * JSON value). The scenario adds a `region` field to each JSON value, in runs (so that a batch
 * holds several records of one region, and several regions), one of them needing percent-encoding
 * in a key ("ap south"). Values that have no such field (text, binary, tombstones) are poison for
 * the field partitioner: with errors.tolerance=all they must be in the dead letters, once. A
 * crash at every port call; the read-back checks every record exactly once, and that every object
 * holds records of ONE region, in that region's directory (computed independently of the sink's code).
 */
describe('chaos: field partitioning', () => {
  const world = useChaosWorld();
  const REGIONS = ['eu-west-1', 'us-east-1', 'ap south'] as const;
  const DIRECTORIES: Record<string, string> = {
    'eu-west-1': 'region=eu-west-1',
    'us-east-1': 'region=us-east-1',
    'ap south': 'region=ap%20south',
  };
  /** Regions in runs: the region changes at a record with probability 0.3 (per scenario: `values` is called in offset order). */
  const regions = () => {
    let current = 0;
    return (record: LogRecord, random: () => number): Buffer | null => {
      if (record.kind !== 'json' || record.value === null) return record.value;
      if (random() < 0.3) current = (current + 1 + Math.floor(random() * 2)) % REGIONS.length;
      return Buffer.from(record.value.toString('utf8').replace(/^\{/, `{ "region": "${REGIONS[current]}",`));
    };
  };

  /** Every object's records share one region, and the object is in that region's directory. */
  const fieldViolations = (results: ReadonlyArray<{ scenario: Scenario; result: ScenarioResult }>) =>
    results.flatMap(({ scenario, result }) => {
      const problems: string[] = [];
      const byKey = new Map<string, Set<string>>();
      for (const { key, line } of result.delivered) {
        const region = String((line['value'] as { region?: unknown } | null)?.region);
        byKey.set(key, (byKey.get(key) ?? new Set()).add(region));
      }
      for (const [key, found] of byKey) {
        const rest = key.slice(result.prefix.length);
        const directory = rest.slice(rest.indexOf('/') + 1, rest.lastIndexOf('/'));
        if (found.size !== 1) problems.push(`${scenario.name}: ${key} spans ${[...found].join(', ')}`);
        for (const region of found)
          if (DIRECTORIES[region] !== directory) problems.push(`${scenario.name}: ${key} holds region ${region}, in ${directory}`);
      }
      return problems;
    });

  it('loses, duplicates and misplaces nothing over 60 crash schedules (field partitioner, poison to dead letters, rotation)', async () => {
    const scenarios = [1, 2, 3].flatMap((seed) =>
      [0, 1].flatMap((crashInvocation) =>
        Array.from({ length: 10 }, (_, crashAt): Scenario => {
          const landed = (crashAt + seed) % 2 === 0;
          return {
            name: `field-crash-${seed}-${crashInvocation}-${crashAt}-${landed ? 'landed' : 'lost'}`,
            seed: 97_000 + seed * 1000 + crashInvocation * 100 + crashAt,
            partitions: 2,
            records: 30,
            maxBatch: 12,
            env: {
              SINK_PARTITIONER: 'field',
              SINK_PARTITION_FIELD: 'region',
              SINK_ERRORS_TOLERANCE: 'all',
              ...(crashAt % 2 === 0 ? { SINK_ROTATE_MAX_RECORDS: '3' } : {}),
            },
            values: regions(),
            poison: (record) => record.kind !== 'json',
            crash: { invocation: crashInvocation, at: crashAt, landed },
          };
        }),
      ),
    );
    const results = await runAll(world(), scenarios);
    expect(violations(results)).toEqual([]);
    expect(fieldViolations(results)).toEqual([]);
    expect(results.filter(({ result }) => result.crashes === 0).map(({ scenario }) => scenario.name)).toEqual([]);
    // Meaningful: every scenario wrote several regions, and poison went to the dead letters.
    for (const { scenario, result } of results) {
      const directories = new Set(result.delivered.map((d) => d.key.slice(0, d.key.lastIndexOf('/'))));
      expect(directories.size, scenario.name).toBeGreaterThan(1);
    }
    expect(results.reduce((n, r) => n + (r.result.deadLetters?.expected ?? 0), 0)).toBeGreaterThan(scenarios.length);
    const rotated = results.filter(({ scenario }) => scenario.env?.['SINK_ROTATE_MAX_RECORDS'] === '3');
    const sizes = new Map<string, number>();
    for (const { result } of rotated) for (const d of result.delivered) sizes.set(d.key, (sizes.get(d.key) ?? 0) + 1);
    expect(Math.max(...sizes.values())).toBeLessThanOrEqual(3);
    console.info(
      `field crash schedules: ${scenarios.length} run, ${results.reduce((n, r) => n + r.result.invocations, 0)} invocations, ` +
        `${new Set(results.flatMap(({ result }) => result.delivered.map((d) => d.key))).size} objects`,
    );
  });
});
