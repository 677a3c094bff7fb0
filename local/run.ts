/**
 * Local mode (`npm start`): runs the real Lambda handler (functions/msk-sink/handler.ts) on the
 * project's own emulators (the S3 emulator and DynamoDB Local, on random loopback ports), feeds
 * it the sample events and a generated stream through a simulated event source mapping, then
 * reads S3 and the ledger back and checks that every record arrived exactly once.
 *
 * Nothing here can reach AWS: the handler's SDK clients are pointed at the emulators through
 * AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_DYNAMODB, with fake credentials.
 */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createLedgerTable, localDynamoDbClient, localS3Client, LOCAL_CREDENTIALS, LOCAL_REGION } from '../testkit/emulators/clients.ts';
import { startDynamoDbLocal } from '../testkit/emulators/dynamodb-local.ts';
import { checkPrerequisites, PrerequisiteError } from '../testkit/emulators/prerequisites.ts';
import { startS3Emulator } from '../testkit/emulators/s3-emulator.ts';
import { Chaos } from './chaos.ts';
import { startFaultProxy } from '../testkit/emulators/fault-proxy.ts';
import { captureHandlerOutput, type Handler, invoke, newStats, runStream, type StreamRun } from './invoke.ts';
import { BUCKET, DEAD_LETTER_PREFIX, type Options, parseOptions, PREFIX, SAMPLE_EVENTS, TABLE, UsageError, USAGE } from './options.ts';
import { count, errorText, out, plural, seconds, size, table } from './output.ts';
import { report } from './report.ts';
import { stopAll, stoppers } from './resources.ts';
import { generateStream } from '../testkit/kafka/generate.ts';
import type { PartitionLog } from '../testkit/kafka/records.ts';
import { listObjects } from '../testkit/read-objects.ts';
import { countRecords, type Expected, expectFromEvent } from '../testkit/verify-delivery.ts';

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  let options: Options | 'help';
  try {
    options = await parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`error: ${err.message}${err.message.includes('\n') ? '' : ' (see --help)'}\n`);
    return 2;
  }
  if (options === 'help') {
    out(USAGE);
    return 0;
  }
  try {
    // DynamoDB Local runs on Java: say what to install in one line rather than failing later.
    checkPrerequisites({ java: true });
  } catch (err) {
    if (!(err instanceof PrerequisiteError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return 1;
  }
  const started = performance.now();
  try {
    return await run(options, started);
  } finally {
    await stopAll();
  }
}

async function run(options: Options, started: number): Promise<number> {
  out(`msk-s3-sink local run (node ${process.version})`);
  // DynamoDB Local (a JVM) takes ~3 s to answer: start the S3 emulator meanwhile, and load the
  // handler's dependencies (none reads the environment on import; the handler itself does).
  const dynamoStarted = performance.now();
  const dynamoStarting = startDynamoDbLocal(options.keep === undefined ? {} : { dataDir: join(options.keep, 'dynamodb') }).then((d) => {
    stoppers.push(() => d.stop());
    return { dynamo: d, ms: performance.now() - dynamoStarted };
  });
  const preloading = Promise.all([
    import('@aws-lambda-powertools/logger/middleware'),
    import('@aws-lambda-powertools/metrics/middleware'),
    import('@middy/core'),
    import('../lib/index.ts'),
  ]).catch(() => undefined); // a failure shows up again, with its message, when the handler is imported
  const s3Emulator = await startS3Emulator(options.keep === undefined ? {} : { dataDir: join(options.keep, 's3') });
  stoppers.push(() => s3Emulator.stop());
  const { dynamo, ms: dynamoMs } = await dynamoStarting;
  await preloading;
  // Under --chaos the handler reaches DynamoDB Local through the fault proxy; the read-back does not.
  const chaos = options.chaos === undefined ? undefined : new Chaos(options.chaos.seed);
  const proxy = chaos === undefined ? undefined : await startFaultProxy({ target: dynamo.endpoint });
  if (proxy !== undefined) stoppers.push(() => proxy.stop());

  const s3 = localS3Client(s3Emulator.endpoint);
  const dynamoDb = localDynamoDbClient(dynamo.endpoint);
  stoppers.push(async () => {
    s3.destroy();
    dynamoDb.destroy();
  });
  const reused = await s3.send(new CreateBucketCommand({ Bucket: BUCKET })).then(
    () => false,
    (error: Error) => {
      if (error.name !== 'BucketAlreadyOwnedByYou' || options.keep === undefined) throw error;
      return true;
    },
  );
  await createLedgerTable(dynamoDb, TABLE).catch((error: Error) => {
    if (error.name !== 'ResourceInUseException' || !reused) throw error;
  });

  // A reused bucket holds earlier runs' objects: the summary reports what this run writes.
  const keptBefore = reused
    ? new Set([...(await listObjects(s3, BUCKET, PREFIX)), ...(await listObjects(s3, BUCKET, DEAD_LETTER_PREFIX))].map((o) => o.key))
    : new Set<string>();
  const where =
    options.keep === undefined ? 'in memory' : `on disk, ${options.keep}${reused ? ", reused: a previous run's bucket and ledger" : ''}`;
  table([
    ['S3 emulator', s3Emulator.endpoint, `bucket ${BUCKET}`, `(${where})`],
    ['DynamoDB Local', dynamo.endpoint, `table ${TABLE}`, `(${where}; started in ${seconds(dynamoMs)})`],
    ...(proxy === undefined
      ? []
      : [['fault proxy', proxy.endpoint, 'in front of DynamoDB Local', `(--chaos, seed ${options.chaos!.seed})`]]),
  ]);

  // The environment the handler reads at cold start: set before it is imported.
  for (const name of [
    'AWS_PROFILE',
    'AWS_SESSION_TOKEN',
    'AWS_ENDPOINT_URL',
    'AWS_DEFAULT_PROFILE',
    'POWERTOOLS_METRICS_DISABLED',
    'POWERTOOLS_DEV',
  ])
    delete process.env[name];
  Object.assign(process.env, {
    SINK_BUCKET: BUCKET,
    LEDGER_TABLE: TABLE,
    SINK_PREFIX: PREFIX,
    SINK_DEAD_LETTER_PREFIX: DEAD_LETTER_PREFIX,
    SINK_COMPRESSION: options.compression,
    AWS_REGION: LOCAL_REGION,
    AWS_ENDPOINT_URL_S3: s3Emulator.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: proxy?.endpoint ?? dynamo.endpoint,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: process.env['POWERTOOLS_LOG_LEVEL'] ?? 'WARN',
  });
  const settings = Object.keys(process.env)
    .filter((name) => name.startsWith('SINK_') || name === 'LEDGER_TABLE')
    .sort()
    .map((name) => `${name}=${process.env[name]}`);
  out(`  handler         functions/msk-sink/handler.ts  ${settings.join(' ')}`);
  // The handler's EMF metrics are summed for the summary, not printed; under --chaos its logs are counted, not printed.
  const handlerOutput = captureHandlerOutput(chaos !== undefined);
  let handler: Handler;
  try {
    handler = (await import('../functions/msk-sink/handler.ts')).handler as unknown as Handler;
  } catch (err) {
    process.stderr.write(`error: the handler failed to initialise: ${errorText(err)}\n`);
    return 1;
  }

  const ready = performance.now();
  const stats = newStats();
  const expected: Expected = { partitions: new Map() };
  let sourceRecords = 0;
  let sourceBytes = 0;
  const sourceOf = (records: Iterable<{ key: Buffer | null; value: Buffer | null }>): void => {
    for (const r of records) {
      sourceRecords++;
      sourceBytes += (r.key?.length ?? 0) + (r.value?.length ?? 0);
    }
  };
  const eventRecords = (event: unknown): Array<{ key: Buffer | null; value: Buffer | null }> =>
    Object.values((event as { records?: Record<string, unknown> }).records ?? {}).flatMap((list) =>
      (Array.isArray(list) ? (list as Array<Record<string, unknown>>) : []).map((r) => ({
        key: typeof r['key'] === 'string' ? Buffer.from(r['key'], 'base64') : null,
        value: typeof r['value'] === 'string' ? Buffer.from(r['value'], 'base64') : null,
      })),
    );
  let streamRun: StreamRun | undefined;

  if (options.event !== undefined) {
    out();
    out(`Event ${options.event.name}: ${plural(countRecords(options.event.body), 'record')}`);
    try {
      const response = await invoke(handler, options.event.body, stats);
      out(`  response: ${JSON.stringify(response)}`);
      expectFromEvent(expected, options.event.body);
      sourceOf(eventRecords(options.event.body));
    } catch (err) {
      out(`  error: ${errorText(err)}`);
      return 1;
    }
  } else {
    let logs: PartitionLog[];
    if (options.input === undefined) {
      out();
      out('Sample events (test/fixtures/events)');
      const rows: string[][] = [];
      for (const file of SAMPLE_EVENTS) {
        const event = JSON.parse(await readFile(file, 'utf8')) as unknown;
        const t0 = performance.now();
        try {
          const response = await invoke(handler, event, stats);
          const ms = `${Math.round(performance.now() - t0)} ms`;
          rows.push([basename(file), plural(countRecords(event), 'record'), 'ok', ms, JSON.stringify(response)]);
          expectFromEvent(expected, event);
          sourceOf(eventRecords(event));
        } catch (err) {
          table(rows);
          out(`  ${basename(file)}: ${errorText(err)}`);
          if (process.env['SINK_ERRORS_TOLERANCE'] !== 'all' && /cannot be written|PoisonRecord/.test(errorText(err))) {
            out(
              `  (a record the sink cannot write stops its partition with SINK_ERRORS_TOLERANCE=none; SINK_ERRORS_TOLERANCE=all sends it to the dead letters)`,
            );
          }
          return 1;
        }
      }
      table(rows);
      const g = options.generator;
      logs = generateStream({
        records: g.records,
        topics: g.topics,
        partitions: g.partitions,
        seed: g.seed,
        keySkew: g.keySkew,
        values: g.values,
        backlog: options.backlog,
        ...(g.recordBytes === undefined ? {} : { recordBytes: g.recordBytes }),
        ...(options.rate === undefined ? {} : { rate: options.rate }),
      });
      out();
      out(
        `Generated stream: ${plural(g.records, 'record')}${options.backlog > 0 ? ` (after a backlog of ${count(options.backlog)})` : ''}, ` +
          `${plural(g.topics, 'topic')} × ${plural(g.partitions, 'partition')}, ${g.values} values` +
          `${g.recordBytes === undefined ? '' : ` of ${size(g.recordBytes)}`}, key skew ${g.keySkew} (partitioned by murmur2 of the key)`,
      );
    } else {
      logs = options.input.logs;
      const total = logs.reduce((n, log) => n + log.records.length, 0);
      out();
      out(
        `Input ${options.input.name}: ${plural(total, 'record')} in ${plural(logs.length, 'partition')}${options.backlog > 0 ? ` (the first ${count(options.backlog)} are a backlog)` : ''}`,
      );
    }
    out(
      `Event source mapping: flush.size ${options.batchSize} (records per invocation), offset.flush.interval.ms ${options.windowMs}, ` +
        `consumer.auto.offset.reset ${options.startText}, ${options.rate === undefined ? 'all records produced at once' : `${count(options.rate)} records/s`} (virtual time)`,
    );
    if (chaos !== undefined) {
      out('Chaos: S3 and DynamoDB throttling, 5xx and lost replies; crashed, concurrent and re-cut invocations');
      s3Emulator.setFaults(chaos.s3Faults);
      proxy!.setFaults(chaos.dynamoFaults);
    }
    try {
      streamRun = await runStream(handler, logs, options, stats, expected, chaos);
    } catch (err) {
      out(`  gave up: ${errorText(err)}`);
      return 1;
    } finally {
      chaos?.disable();
      s3Emulator.setFaults(undefined);
      proxy?.setFaults(undefined);
    }
    sourceOf(logs.flatMap((log) => log.records));
    if (streamRun.skipped > 0)
      out(
        `  ${plural(streamRun.skipped, 'record')} before the start position (${options.startText}) not delivered, as a new consumer group would`,
      );
  }

  return report({
    options,
    s3,
    dynamoDb,
    expected,
    keptBefore,
    handlerOutput,
    stats,
    streamRun,
    sourceRecords,
    sourceBytes,
    chaos,
    started,
    ready,
    dynamoMs,
  });
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await stopAll();
    process.exit(1);
  },
);
