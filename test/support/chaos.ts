/**
 * The chaos harness: runs the real sink (core + AWS adapters) against the local emulators while
 * a simulated event source mapping feeds it, and injects the fault model: a process crash at any
 * port call (with the request landed or not), random interleavings of concurrent invocations,
 * a late write from a dead invocation, a ledger reset mid-flight. Throttling and 5xx come from
 * the emulators' own fault hooks (see the service-fault suite).
 */
import { type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { DynamoDbOffsetLedger } from '../../lib/aws/dynamodb-ledger.ts';
import { S3ObjectStore } from '../../lib/aws/s3-object-store.ts';
import { loadConfig } from '../../lib/config/config.ts';
import type { DeliveryPorts } from '../../lib/delivery/options.ts';
import { ObjectExistsError } from '../../lib/core/errors.ts';
import { systemClock } from '../../lib/core/ports.ts';
import { createSink } from '../../lib/sink/sink.ts';
import { type BatchSlice, type LogRecord, randomInt, rng } from '../../testkit/kafka/records.ts';
import { EventSourceMappingSim } from '../../testkit/kafka/mapping.ts';
import { generateLog } from '../../testkit/kafka/generate.ts';
import { toKafkaEvent } from '../../testkit/kafka/events.ts';
import { check, type CheckResult, type DeliveredLine, readDelivered, readObjects } from '../../testkit/read-back.ts';
import { silentLogger, silentMetrics } from '../../testkit/recorders.ts';

/** The process running an invocation died. */
export class ProcessCrash extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProcessCrash';
  }
}

/** How one invocation misbehaves. */
export interface InvocationFaults {
  /** Die at this port call (0-based, ledger and store calls counted together). */
  readonly crashAt?: number;
  /** At the crash point: the request lands and its reply is lost (true) or is never sent (false). */
  readonly landed?: boolean;
  /** At the crash point, hold an object write and let it land later (a dead invocation's late write). */
  readonly holdWrite?: boolean;
  /** Random delay around each call, to shuffle the interleavings of concurrent invocations. */
  readonly jitter?: { readonly random: () => number; readonly maxMs: number };
  /**
   * Runs before each call is sent (e.g. an operator's reset in the middle of an invocation);
   * `partition` is the ledger call's partition, undefined for object calls.
   */
  readonly beforeCall?: (operation: string, index: number, partition?: number) => Promise<void>;
  /**
   * A deliberately broken protocol, to prove the checker catches one: object writes are
   * acknowledged at once and sent only when the invocation ends alive, so the ledger can move
   * past an object that is not durable.
   */
  readonly ackBeforeDurable?: boolean;
}

/** A dead invocation's write still on the wire. */
export type HeldWrite = () => Promise<void>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Wraps the ports of one invocation with its faults. */
export function faultyPorts(ports: DeliveryPorts, faults: InvocationFaults) {
  const state = { calls: 0, crashed: false, held: [] as HeldWrite[], unsent: [] as HeldWrite[] };
  const call = async <T>(operation: string, send: () => Promise<T>, partition?: number): Promise<T> => {
    if (faults.jitter) await sleep(faults.jitter.random() * faults.jitter.maxMs);
    if (state.crashed) throw new ProcessCrash('process is dead');
    const index = state.calls++;
    await faults.beforeCall?.(operation, index, partition);
    if (index === faults.crashAt) {
      state.crashed = true;
      if (faults.holdWrite && operation === 'put') {
        state.held.push(async () => {
          await send().catch((error: unknown) => {
            if (!(error instanceof ObjectExistsError)) throw error;
          });
        });
      } else if (faults.landed) {
        await send().catch(() => undefined);
      }
      throw new ProcessCrash(`crashed at call ${index} (${operation})`);
    }
    const result = await send();
    if (faults.jitter) await sleep(faults.jitter.random() * faults.jitter.maxMs);
    // A reply that arrives after the process died is never seen.
    if (state.crashed) throw new ProcessCrash('process died while the request was in flight');
    return result;
  };
  const wrapped: DeliveryPorts = {
    clock: ports.clock,
    ledger: {
      read: (topic, partition) => call('read', () => ports.ledger.read(topic, partition), partition),
      advance: (expected, next) => call('advance', () => ports.ledger.advance(expected, next), next.partition),
      declareNaming: (expected, declaration) =>
        call('declareNaming', () => ports.ledger.declareNaming(expected, declaration), declaration.partition),
    },
    store: {
      putIfAbsent: (object) =>
        call('put', async () => {
          if (!faults.ackBeforeDurable) return ports.store.putIfAbsent(object);
          state.unsent.push(() => ports.store.putIfAbsent(object).catch(() => undefined));
        }),
      head: (key) => call('head', () => ports.store.head(key)),
    },
  };
  return { ports: wrapped, state };
}

/** The emulators a scenario runs against. */
export interface ChaosWorld {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly dynamoDb: DynamoDBClient;
  readonly table: string;
}

export interface Scenario {
  readonly seed: number;
  /** Unique per scenario in a world: names its topics and prefixes. */
  readonly name: string;
  readonly partitions?: number;
  readonly records?: number;
  readonly maxBatch?: number;
  /** Extra sink settings, as environment variables. */
  readonly env?: Record<string, string>;
  /**
   * A process crash at call `at` of invocation `invocation` (0-based); if that invocation makes
   * fewer calls, the crash stays armed for the next ones until it fires.
   */
  readonly crash?: { readonly invocation: number; readonly at: number; readonly landed: boolean };
  /** Faults of the n-th invocation (0-based); undefined: none. */
  readonly faultsFor?: (invocation: number, random: () => number) => InvocationFaults | undefined;
  /** Run this many invocations at once on overlapping batches (default 1). */
  readonly concurrency?: number;
  /** Probability, after each round, that the consumer group rewinds a partition. */
  readonly rewindRate?: number;
  /** Called after each round: may reset the ledger (returns the consumer group's new positions). */
  readonly afterRound?: (round: number, context: RoundContext) => Promise<void>;
  /** Records whose value is not JSON (text, binary) are poison (needs SINK_VALUE_CONVERTER=json). */
  readonly jsonOnly?: boolean;
  /**
   * Record timestamps (epoch ms) by offset, for time-based layouts; default: the generator's
   * (1 ms apart). May go backwards: Kafka timestamps need not grow with offsets.
   */
  readonly timestamps?: (offset: number, random: () => number) => number;
  /**
   * Rewrites a record's value (the generator's log stays as it is; the rewritten value is the one
   * produced and checked), e.g. to add a field to partition by.
   */
  readonly values?: (record: LogRecord, random: () => number) => Buffer | null;
  /**
   * Which records the sink must send to the dead letters instead of the data (they are checked
   * there, exactly once; needs SINK_ERRORS_TOLERANCE=all); default: with `jsonOnly`, text and binary values.
   */
  readonly poison?: (record: LogRecord) => boolean;
  /** The compression; default: by seed (gzip, none, zstd). */
  readonly compression?: 'gzip' | 'zstd' | 'none';
  /**
   * Settings of the n-th invocation (0-based) over `env`, e.g. another compression or layout
   * after a crash (a deploy between a crash and its retry); undefined: `env` alone.
   */
  readonly envFor?: (invocation: number) => Record<string, string> | undefined;
  /**
   * Probability, after a round in which every invocation succeeded, that the mapping discards the
   * next 1–5 records of a partition (retries or record age ran out) and moves on past them.
   */
  readonly skipRate?: number;
}

export interface RoundContext {
  readonly world: ChaosWorld;
  readonly group: EventSourceMappingSim;
  readonly logs: ReadonlyArray<readonly LogRecord[]>;
  readonly random: () => number;
  /** Runs one invocation now, with these faults (for mid-flight resets). */
  readonly invoke: (faults?: InvocationFaults) => Promise<void>;
}

export interface ScenarioResult {
  readonly topic: string;
  /** Where the scenario's data objects are (`{name}/topics/`). */
  readonly prefix: string;
  readonly logs: ReadonlyArray<readonly LogRecord[]>;
  readonly delivered: readonly DeliveredLine[];
  readonly check: CheckResult;
  readonly deadLetters: CheckResult | undefined;
  readonly invocations: number;
  readonly crashes: number;
  readonly failures: number;
  readonly lateWrites: number;
  /**
   * With `skipRate`: records the mapping discarded that are not in S3, and what is wrong with the
   * ledger's record of them (each must lie in a `gap` range on the ledger item, and every record in
   * such a range must be one of them).
   */
  readonly skipped?: { readonly records: number; readonly problems: readonly string[] };
}

/** Runs a scenario to the end (every partition drained) and checks S3 against the log. */
export async function runScenario(world: ChaosWorld, scenario: Scenario): Promise<ScenarioResult> {
  const random = rng(scenario.seed);
  const prefix = `${scenario.name}/topics/`;
  const deadLetterPrefix = `${scenario.name}/dead-letters/`;
  const compression = scenario.compression ?? (['gzip', 'none', 'zstd'] as const)[scenario.seed % 3]!;
  const baseEnv = {
    SINK_BUCKET: world.bucket,
    LEDGER_TABLE: world.table,
    SINK_PREFIX: prefix,
    SINK_DEAD_LETTER_PREFIX: deadLetterPrefix,
    SINK_COMPRESSION: compression,
    ...scenario.env,
  };
  const config = loadConfig(baseEnv);
  const configFor = (invocation: number) => {
    const env = scenario.envFor?.(invocation);
    return env ? loadConfig({ ...baseEnv, ...env }) : config;
  };
  const basePorts: DeliveryPorts = {
    ledger: new DynamoDbOffsetLedger({ client: world.dynamoDb, tableName: world.table }),
    store: new S3ObjectStore({ client: world.s3, bucket: world.bucket }),
    clock: systemClock,
  };
  const topic = `${scenario.name.replace(/[^a-zA-Z0-9._-]/g, '_')}.orders-v1`;
  const logs = Array.from({ length: scenario.partitions ?? 2 }, (_, partition) =>
    generateLog({ topic, partition, count: scenario.records ?? 30, random, textRate: scenario.jsonOnly ? 0.1 : 0.05 })
      .map((record) => (scenario.timestamps ? { ...record, timestamp: scenario.timestamps(record.offset, random) } : record))
      .map((record) => (scenario.values ? { ...record, value: scenario.values(record, random) } : record)),
  );
  const group = EventSourceMappingSim.consumerGroup(logs, random);
  const held: HeldWrite[] = [];
  let invocations = 0;
  let crashes = 0;
  let failures = 0;
  const sourceSkipped = new Set<LogRecord>();

  const invokeOn = async (slices: BatchSlice[], faults: InvocationFaults | undefined): Promise<boolean> => {
    const index = invocations++;
    const faulty = faultyPorts(basePorts, faults ?? {});
    const disarm = () => {
      if (faulty.state.crashed && faults?.crashAt === scenario.crash?.at) crashArmed = false;
    };
    const sink = createSink({ config: configFor(index), ports: faulty.ports, logger: silentLogger, metrics: silentMetrics });
    let response;
    try {
      response = await sink.handle(toKafkaEvent(slices, index % 2 ? 'SelfManagedKafka' : 'aws:kafka'));
    } catch (error) {
      if (process.env['CHAOS_DEBUG']) console.error(index, error);
      response = undefined;
    }
    disarm();
    held.push(...faulty.state.held);
    if (!faulty.state.crashed) for (const send of faulty.state.unsent) await send();
    if (faulty.state.crashed) {
      crashes += 1;
      return false;
    }
    if (!response) {
      failures += 1;
      return false;
    }
    if (response.batchItemFailures.length > 0) {
      // A mapping with ReportBatchItemFailures commits the rest and resumes each failed
      // partition at the offset reported.
      failures += 1;
      for (const slice of slices) {
        const failed = response.batchItemFailures.find(
          (failure) => failure.itemIdentifier.partition === `${slice.topic}-${slice.partition}`,
        );
        group.commitAt(slice.topic, slice.partition, failed ? failed.itemIdentifier.offset : slice.records.at(-1)!.offset + 1);
      }
      return false;
    }
    return true;
  };

  let crashArmed = scenario.crash !== undefined;
  const faultsFor = (invocation: number): InvocationFaults | undefined => {
    const faults = scenario.faultsFor?.(invocation, random);
    if (!crashArmed || invocation < scenario.crash!.invocation) return faults;
    return { ...faults, crashAt: scenario.crash!.at, landed: scenario.crash!.landed };
  };

  const context: RoundContext = {
    world,
    group,
    logs,
    random,
    invoke: async (faults) => {
      const slices = group.pollSlices(scenario.maxBatch ?? 8);
      if (slices.length > 0 && (await invokeOn(slices, faults))) group.commitSlices(slices);
    },
  };

  for (let round = 0; !group.drained; round++) {
    if (round > 2000) throw new Error(`scenario ${scenario.name} did not drain in 2000 rounds`);
    const batches = Array.from({ length: scenario.concurrency ?? 1 }, () => group.pollSlices(scenario.maxBatch ?? 8));
    const outcomes = await Promise.all(batches.map((slices) => invokeOn(slices, faultsFor(invocations))));
    // Commits of concurrent invocations arrive in any order, as around a rebalance.
    for (const [index, ok] of outcomes.entries()) if (ok) group.commitSlices(batches[index]!);
    if (scenario.skipRate !== undefined && outcomes.every(Boolean) && held.length === 0 && random() < scenario.skipRate) {
      for (const record of group.skip(randomInt(random, 0, logs.length - 1), randomInt(random, 1, 5))) sourceSkipped.add(record);
    }
    if (held.length > 0 && random() < 0.3) await held.shift()!();
    // A rewind never outruns a batch, so every scenario drains.
    if (random() < (scenario.rewindRate ?? 0.1)) group.rewind(Math.min(6, scenario.maxBatch ?? 8));
    await scenario.afterRound?.(round, context);
  }
  const lateWrites = held.length;
  for (const write of held) await write();

  const all = logs.flat();
  const isPoison =
    scenario.poison ?? ((record: LogRecord) => scenario.jsonOnly === true && (record.kind === 'text' || record.kind === 'binary'));
  const delivered = await readDelivered(world.s3, world.bucket, prefix);
  const deadLetters = scenario.jsonOnly || scenario.poison ? await readDeadLetters(world, deadLetterPrefix) : undefined;
  // A discarded record may still be in S3 (the group was behind the ledger when it skipped):
  // then it must be there once like any other. One that is not is the ledger's to account for.
  const inS3 = new Set(delivered.map(({ line }) => `${line.partition}/${line.offset}`));
  const missingSkipped = new Set([...sourceSkipped].filter((record) => !inS3.has(`${record.partition}/${record.offset}`)));
  const lastInS3 = new Map<number, number>();
  for (const { line } of delivered)
    lastInS3.set(Number(line.partition), Math.max(lastInS3.get(Number(line.partition)) ?? -1, Number(line.offset)));
  const skipped = scenario.skipRate === undefined ? undefined : await accountForSkips(basePorts, logs, missingSkipped, lastInS3);
  return {
    topic,
    prefix,
    logs,
    delivered,
    ...(skipped ? { skipped } : {}),
    check: check(
      all.filter((record) => !isPoison(record) && !missingSkipped.has(record)),
      delivered,
    ),
    deadLetters: deadLetters ? check(all.filter(isPoison), deadLetters) : undefined,
    invocations,
    crashes,
    failures,
    lateWrites,
  };
}

/** Compares the records the mapping discarded (and S3 lacks) with the gap ranges on the ledger items. */
async function accountForSkips(
  ports: DeliveryPorts,
  logs: ReadonlyArray<readonly LogRecord[]>,
  missing: ReadonlySet<LogRecord>,
  lastInS3: ReadonlyMap<number, number>,
): Promise<{ records: number; problems: string[] }> {
  const problems: string[] = [];
  for (const log of logs) {
    const first = log[0]!;
    const entry = await ports.ledger.read(first.topic, first.partition);
    const gaps = (entry?.skippedRanges ?? []).filter((range) => range.kind === 'gap');
    const inGap = (offset: number) => gaps.some((range) => range.fromOffset <= offset && offset <= range.toOffset);
    for (const record of log) {
      // Records discarded at the end of the log are seen only when a later batch comes.
      const detectable = record.offset < (lastInS3.get(record.partition) ?? -1);
      if (missing.has(record) && detectable && !inGap(record.offset)) {
        problems.push(`${record.partition}@${record.offset} discarded but in no recorded gap`);
      }
      if (!missing.has(record) && inGap(record.offset))
        problems.push(`${record.partition}@${record.offset} in a recorded gap but not discarded`);
    }
  }
  return { records: missing.size, problems };
}

async function readDeadLetters(world: ChaosWorld, prefix: string) {
  const objects = await readObjects(world.s3, world.bucket, prefix);
  return [...objects].map(([key, body]) => {
    const letter = JSON.parse(body.toString('utf8'));
    // Seen as a delivered line whose value is the original text (the checker's 'text' rule).
    const value = letter.value === null ? null : Buffer.from(letter.value, 'base64');
    const text = value?.toString('utf8');
    const isUtf8 = text !== undefined && Buffer.from(text, 'utf8').equals(value!);
    return {
      key,
      generation: 0,
      line: {
        ...letter,
        value: isUtf8 ? text : letter.value,
        ...(isUtf8 ? {} : { valueEncoding: 'base64' }),
      },
    };
  });
}

/** What an operator's replay does to the ledger: a new generation that starts after `committedOffset`. */
export async function resetLedger(world: ChaosWorld, topic: string, partition: number, committedOffset: number): Promise<void> {
  await world.dynamoDb.send(
    new UpdateItemCommand({
      TableName: world.table,
      Key: { topic: { S: topic }, partition: { N: String(partition) } },
      UpdateExpression: 'SET generation = if_not_exists(generation, :zero) + :one, committedOffset = :committed',
      ExpressionAttributeValues: { ':zero': { N: '0' }, ':one': { N: '1' }, ':committed': { N: String(committedOffset) } },
    }),
  );
}

export { randomInt };
