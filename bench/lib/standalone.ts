/**
 * The standalone worker's throughput on a real Kafka broker (testkit/emulators/kafka-broker.ts),
 * against a floor: the same client (`@platformatic/kafka`), with the worker's fetch sizes,
 * consuming the same topic and discarding what it reads.
 *
 * One topic of `partitions` partitions gets `records` realistic records (bench/realistic-data.ts:
 * their keys, values and headers, spread round-robin). Then, interleaved `runs` times:
 *  - floor: a fresh consumer group's `consume()` stream from the earliest offset, until it has
 *    seen every record (join included);
 *  - worker: a fresh `StandaloneWorker` (file ledger in a temporary directory, the S3 emulator in
 *    a child process, the default format and compression, logs at INFO to nowhere), from `run()`
 *    until its ledger commits reach every record (join included), then its stop.
 * After one uncounted floor run (the broker warms up). Both read the same bytes from the same broker; the ratio is floor time / worker time.
 */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { Admin, Consumer, Producer } from '@platformatic/kafka';
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { S3ObjectStore } from '../../lib/aws/s3-object-store.ts';
import { systemClock } from '../../lib/core/ports.ts';
import { deliveryOptions } from '../../lib/sink/sink.ts';
import { readStandaloneConfigFile } from '../../lib/config/worker-config.ts';
import { FileOffsetLedger } from '../../lib/ledger/file-ledger.ts';
import { createJsonLogger } from '../../lib/standalone/log.ts';
import { StandaloneWorker } from '../../lib/standalone/worker.ts';
import { localS3Client, LOCAL_CREDENTIALS, LOCAL_REGION } from '../../testkit/emulators/clients.ts';
import { startKafkaBroker } from '../../testkit/emulators/kafka-broker.ts';
import { realisticEvent } from '../realistic-data.ts';
import { median, round } from './stats.ts';

export interface StandaloneBenchOptions {
  readonly records: number;
  readonly partitions: number;
  readonly runs: number;
  /** `flush.size` of the worker. */
  readonly flushSize: number;
}

export interface StandaloneRun {
  readonly floorMs: number;
  readonly workerMs: number;
  /** Share of the worker run the process's main thread was busy (event loop utilisation, 0..1). */
  readonly workerEventLoopBusy: number;
}

export interface StandaloneBenchResult {
  readonly records: number;
  readonly partitions: number;
  /** Key + value + header bytes of all records. */
  readonly payloadBytes: number;
  readonly flushSize: number;
  readonly maxPartitionFetchBytes: number;
  readonly fetchMaxWaitMs: number;
  readonly produceMs: number;
  readonly runs: StandaloneRun[];
  readonly floorMedianMs: number;
  readonly workerMedianMs: number;
  readonly floorRecordsPerSecond: number;
  readonly workerRecordsPerSecond: number;
  readonly floorMiBPerSecond: number;
  readonly workerMiBPerSecond: number;
  /** Median of per-run floor time / worker time (1 = as fast as the floor). */
  readonly ratio: number;
}

const TOPIC = 'bench.standalone';
const BUCKET = 'bench-standalone';
/** The worker's defaults (lib/config/worker-config.ts), which the floor uses too. */
const MAX_PARTITION_FETCH_BYTES = 1_048_576;
const FETCH_MAX_WAIT_MS = 500;

interface BenchMessage {
  readonly key: Buffer | undefined;
  readonly value: Buffer | undefined;
  readonly headers: Map<Buffer, Buffer>;
}

/** `count` realistic records, decoded from the realistic event generator's batches. */
function realisticMessages(count: number): BenchMessage[] {
  const messages: BenchMessage[] = [];
  for (let seed = 1; messages.length < count; seed++) {
    const event = realisticEvent(4 * 1024 * 1024, seed);
    for (const list of Object.values(event.records)) {
      for (const raw of list) {
        if (messages.length >= count) break;
        const headers = new Map<Buffer, Buffer>();
        for (const header of raw['headers'] as Array<Record<string, number[]>>) {
          for (const [name, bytes] of Object.entries(header)) headers.set(Buffer.from(name), Buffer.from(bytes));
        }
        messages.push({
          key: typeof raw['key'] === 'string' ? Buffer.from(raw['key'], 'base64') : undefined,
          value: typeof raw['value'] === 'string' ? Buffer.from(raw['value'], 'base64') : undefined,
          headers,
        });
      }
    }
  }
  return messages;
}

function payloadBytes(m: BenchMessage): number {
  let n = (m.key?.length ?? 0) + (m.value?.length ?? 0);
  for (const [k, v] of m.headers) n += k.length + v.length;
  return n;
}

/** Runs the standalone section; `log` gets progress lines. */
export async function runStandaloneBench(options: StandaloneBenchOptions, log: (line: string) => void): Promise<StandaloneBenchResult> {
  const stoppers: Array<() => Promise<unknown>> = [];
  const dir = mkdtempSync(join(tmpdir(), 'bench-standalone-'));
  stoppers.push(async () => rmSync(dir, { recursive: true, force: true }));
  try {
    const [broker, s3Emulator] = await Promise.all([startKafkaBroker({ log: (line) => log(`  ${line}`) }), startS3EmulatorProcess()]);
    stoppers.push(
      () => broker.stop(),
      () => s3Emulator.stop(),
    );
    const s3 = localS3Client(s3Emulator.endpoint);
    stoppers.push(async () => s3.destroy());
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const admin = new Admin({ clientId: 'bench-admin', bootstrapBrokers: [broker.bootstrap], retries: 3, retryDelay: 200 });
    try {
      await admin.createTopics({ topics: [TOPIC], partitions: options.partitions, replicas: 1 });
    } finally {
      await admin.close();
    }

    // Produced in a function of its own: the messages are garbage once sent. Kept alive, a large
    // run's million records would sit in the heap the worker shares, and every major GC would
    // walk them (the worker's flushes took 3 to 5 times as long by the end of a 1M run).
    const { bytes, produceMs } = await produceRealistic(broker.bootstrap, options);
    log(
      `  produced ${options.records.toLocaleString('en-US')} records (${(bytes / 1024 / 1024).toFixed(1)} MiB of keys, values and headers) to ${options.partitions} partitions in ${round(produceMs / 1000)} s`,
    );

    // One uncounted floor run: the broker's JIT and page cache warm up on it, not on the first counted run.
    await floor(broker.bootstrap, options.records, 'warm-up');
    const runs: StandaloneRun[] = [];
    for (let run = 1; run <= options.runs; run++) {
      const floorMs = await floor(broker.bootstrap, options.records, `floor-${run}`);
      const elu = performance.eventLoopUtilization();
      const workerMs = await worker(broker.bootstrap, s3Emulator.endpoint, options, `worker-${run}`, dir);
      const busy = round(performance.eventLoopUtilization(elu).utilization, 2);
      runs.push({ floorMs: round(floorMs), workerMs: round(workerMs), workerEventLoopBusy: busy });
      log(
        `  run ${run}/${options.runs}: floor ${round(floorMs / 1000, 2)} s, worker ${round(workerMs / 1000, 2)} s (main thread busy ${Math.round(busy * 100)}%)`,
      );
    }
    const floorMedianMs = median(runs.map((r) => r.floorMs));
    const workerMedianMs = median(runs.map((r) => r.workerMs));
    const perSecond = (ms: number) => (options.records * 1000) / ms;
    const mibPerSecond = (ms: number) => (bytes / 1024 / 1024) * (1000 / ms);
    return {
      records: options.records,
      partitions: options.partitions,
      payloadBytes: bytes,
      flushSize: options.flushSize,
      maxPartitionFetchBytes: MAX_PARTITION_FETCH_BYTES,
      fetchMaxWaitMs: FETCH_MAX_WAIT_MS,
      produceMs: round(produceMs),
      runs,
      floorMedianMs: round(floorMedianMs),
      workerMedianMs: round(workerMedianMs),
      floorRecordsPerSecond: Math.round(perSecond(floorMedianMs)),
      workerRecordsPerSecond: Math.round(perSecond(workerMedianMs)),
      floorMiBPerSecond: round(mibPerSecond(floorMedianMs), 2),
      workerMiBPerSecond: round(mibPerSecond(workerMedianMs), 2),
      ratio: round(median(runs.map((r) => r.floorMs / r.workerMs)), 2),
    };
  } finally {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
  }
}

/** Produces `options.records` realistic records round-robin over the partitions; their payload bytes and the time it took. */
async function produceRealistic(bootstrap: string, options: StandaloneBenchOptions): Promise<{ bytes: number; produceMs: number }> {
  const messages = realisticMessages(options.records);
  const bytes = messages.reduce((sum, m) => sum + payloadBytes(m), 0);
  const producer = new Producer({
    clientId: 'bench-producer',
    bootstrapBrokers: [bootstrap],
    autocreateTopics: false,
    retries: 3,
    retryDelay: 200,
  });
  const produceStarted = performance.now();
  try {
    const chunk = 2_000;
    for (let i = 0; i < messages.length; i += chunk) {
      await producer.send({
        messages: messages.slice(i, i + chunk).map((m, j) => ({
          topic: TOPIC,
          partition: (i + j) % options.partitions,
          key: m.key,
          value: m.value,
          headers: m.headers,
        })),
      });
    }
  } finally {
    await producer.close();
  }
  return { bytes, produceMs: performance.now() - produceStarted };
}

/**
 * The S3 emulator in a child process of its own: in this process its request handling (body
 * reading, checksums, MD5) would take turns on the worker's event loop, and the figure would be
 * the worker's and the emulator's together. (Both still share the machine's cores.)
 */
async function startS3EmulatorProcess(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const emulator = resolve(import.meta.dirname, '../../testkit/emulators/s3-emulator.ts');
  const script = [
    `import { startS3Emulator } from ${JSON.stringify(emulator)};`,
    'const e = await startS3Emulator();',
    'process.stdout.write(JSON.stringify({ endpoint: e.endpoint }) + "\\n");',
    'process.stdin.resume();',
    'process.stdin.on("end", () => e.stop().then(() => process.exit(0)));',
  ].join('\n');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const line = await new Promise<string>((done, fail) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', done);
    child.once('exit', (code) => fail(new Error(`The S3 emulator process exited (${code}) before giving its endpoint`)));
  });
  const { endpoint } = JSON.parse(line) as { endpoint: string };
  return {
    endpoint,
    stop: async () => {
      child.stdin.end();
      await exited;
    },
  };
}

/** The floor: the client's own stream, a fresh group from the earliest offset, every record seen and dropped. */
async function floor(bootstrap: string, records: number, group: string): Promise<number> {
  const consumer = new Consumer({
    clientId: group,
    bootstrapBrokers: [bootstrap],
    groupId: `bench-${group}`,
    autocommit: false,
    maxWaitTime: FETCH_MAX_WAIT_MS,
    maxBytesPerPartition: MAX_PARTITION_FETCH_BYTES,
    retries: 3,
    retryDelay: 200,
  });
  const started = performance.now();
  try {
    const stream = await consumer.consume({ topics: [TOPIC], mode: 'earliest', autocommit: false });
    let seen = 0;
    for await (const message of stream) {
      void message;
      if (++seen >= records) break;
    }
    const elapsed = performance.now() - started;
    await stream.close();
    return elapsed;
  } finally {
    await consumer.close(true).catch(() => undefined);
  }
}

/** The worker, in this process, from `run()` until the ledger holds every record. */
async function worker(bootstrap: string, s3Endpoint: string, options: StandaloneBenchOptions, name: string, dir: string): Promise<number> {
  const propertiesPath = join(dir, `${name}.properties`);
  writeFileSync(
    propertiesPath,
    [
      `name=${name}`,
      `bootstrap.servers=${bootstrap}`,
      `topics=${TOPIC}`,
      `group.id=bench-${name}`,
      'consumer.auto.offset.reset=earliest',
      `flush.size=${options.flushSize}`,
      'offset.flush.interval.ms=1000',
      `offset.storage.file.filename=${join(dir, `${name}.offsets.json`)}`,
      `s3.bucket.name=${BUCKET}`,
      `topics.dir=${name}`,
      // The realistic records include text and binary values: as in the handler's bench.
      'errors.tolerance=all',
      // BENCH_STANDALONE_PROPERTIES='a=1;b=2' adds (or overrides) worker properties, to compare settings.
      ...(process.env['BENCH_STANDALONE_PROPERTIES']?.split(';').filter(Boolean) ?? []),
      '',
    ].join('\n'),
  );
  const env = {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  };
  const config = readStandaloneConfigFile(propertiesPath, env);
  const ledger = FileOffsetLedger.open(join(dir, `${name}.offsets.json`));
  const s3 = localS3Client(s3Endpoint);
  // BENCH_STANDALONE_LOG=DIR keeps each worker's log lines there (to see its flushes); else they go nowhere.
  const logDir = process.env['BENCH_STANDALONE_LOG'];
  const nowhere = logDir ? createWriteStream(join(logDir, `${name}.log`)) : new Writable({ write: (_chunk, _encoding, done) => done() });
  const sink = new StandaloneWorker({
    config,
    delivery: deliveryOptions(config.sink),
    ledger,
    store: new S3ObjectStore({ client: s3, bucket: BUCKET }),
    clock: systemClock,
    logger: createJsonLogger({ out: nowhere, level: 'INFO', fields: { worker: name } }),
  });
  const started = performance.now();
  let elapsed = 0;
  const running = sink.run();
  try {
    await new Promise<void>((resolve, reject) => {
      running.then(() => reject(new Error(`${name} stopped before delivering every record`)), reject);
      // Done when the ledger has committed every partition's last offset (records go round-robin).
      const last = Array.from({ length: options.partitions }, (_, p) => Math.ceil((options.records - p) / options.partitions) - 1);
      let checking = false;
      const poll = setInterval(() => {
        if (checking) return;
        checking = true;
        Promise.all(last.map((offset, p) => ledger.read(TOPIC, p).then((entry) => offset < 0 || (entry?.committedOffset ?? -1) >= offset)))
          .then((done) => {
            checking = false;
            if (!done.every(Boolean)) return;
            elapsed = performance.now() - started;
            clearInterval(poll);
            resolve();
          })
          .catch((error: unknown) => {
            clearInterval(poll);
            reject(error);
          });
      }, 5);
    });
  } finally {
    sink.stop();
    await running.catch(() => undefined);
    await ledger.close();
    s3.destroy();
  }
  return elapsed;
}
