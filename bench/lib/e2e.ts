/**
 * End to end through the emulators: the real handler (functions/msk-sink/handler.ts, imported
 * after the environment is set, as local/run.ts does) on the project's S3 emulator and DynamoDB
 * Local, with the fault proxy (no faults) in front of DynamoDB Local as a request counter.
 *
 * - requests per topic-partition per batch, measured from the emulators' counters: the first
 *   batch of a partition (no ledger entry yet), steady-state batches, and a redelivery of a
 *   batch already delivered;
 * - throughput: sequential invocations (one warm function instance) for a given time, records/s,
 *   MB/s and per-invocation latency p50/p95.
 */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { createLedgerTable, localDynamoDbClient, localS3Client, LOCAL_CREDENTIALS, LOCAL_REGION } from '../../testkit/emulators/clients.ts';
import { startDynamoDbLocal } from '../../testkit/emulators/dynamodb-local.ts';
import { startFaultProxy } from '../../testkit/emulators/fault-proxy.ts';
import { startS3Emulator } from '../../testkit/emulators/s3-emulator.ts';
import { lambdaContext } from '../../testkit/lambda-context.ts';
import { realisticEvent } from '../realistic-data.ts';
import { median, percentile, round } from './stats.ts';
import type { RequestsPerPartition } from './cost-model.ts';

const BUCKET = 'msk-s3-sink-bench';
const TABLE = 'msk-s3-sink-bench-ledger';

type RawRecord = Record<string, unknown> & { offset: number; key?: string; value?: string };
interface KafkaEvent {
  eventSource: string;
  eventSourceArn: string;
  bootstrapServers: string;
  records: Record<string, RawRecord[]>;
}
type Handler = (event: unknown, context: Context) => Promise<unknown>;

export interface RequestCounts {
  readonly GetItem: number;
  readonly UpdateItem: number;
  readonly PutObject: number;
  readonly HeadObject: number;
  /** Every other request (should be 0). */
  readonly other: number;
}

export interface RequestScenario {
  readonly scenario: string;
  readonly batches: number;
  readonly partitionsPerBatch: number;
  /** Totals over the scenario's batches. */
  readonly totals: RequestCounts;
  /** Per topic-partition per batch. */
  readonly perPartition: RequestsPerPartition & { readonly other: number };
}

export interface ThroughputRun {
  readonly label: string;
  readonly recordsPerBatch: number;
  readonly eventMBPerBatch: number;
  readonly seconds: number;
  readonly invocations: number;
  readonly records: number;
  readonly recordsPerSecond: number;
  /** MB of event JSON per second. */
  readonly eventMBPerSecond: number;
  /** MB of decoded keys and values per second. */
  readonly payloadMBPerSecond: number;
  readonly latencyP50Ms: number;
  readonly latencyP95Ms: number;
  readonly latencyMaxMs: number;
}

export interface E2eResult {
  readonly dynamoDbLocalStartMs: number;
  readonly requests: readonly RequestScenario[];
  readonly throughput: readonly ThroughputRun[];
  /** The largest ledger item, bytes (DynamoDB's item-size rules, approximately). */
  readonly ledgerItemBytes: number;
  readonly ledgerItems: number;
}

export interface E2eOptions {
  /** Seconds of invocations per throughput configuration. */
  readonly seconds: number;
  /** Records per batch for the throughput runs ("max" = a 6 MB event). */
  readonly batchRecords: ReadonlyArray<number | 'max'>;
  readonly compression: 'gzip' | 'zstd' | 'none';
}

/** A stream source: the realistic 6 MB batch, repeated with offsets shifted forward each lap. */
class Stream {
  readonly #base: KafkaEvent;
  readonly #lists: Array<[string, RawRecord[]]>;
  readonly #span: number;
  /** Per partition: index into the base list and the lap. */
  readonly #position = new Map<string, { index: number; lap: number }>();
  readonly recordBytes: number;
  readonly eventBytesPerRecord: number;

  constructor(base: KafkaEvent) {
    this.#base = base;
    this.#lists = Object.entries(base.records);
    this.#span = Math.max(...this.#lists.map(([, list]) => list.at(-1)!.offset - list[0]!.offset)) + 10;
    for (const [id] of this.#lists) this.#position.set(id, { index: 0, lap: 0 });
    const all = this.#lists.flatMap(([, list]) => list);
    this.recordBytes =
      all.reduce((n, r) => n + Buffer.byteLength(r.key ?? '', 'base64') + Buffer.byteLength(r.value ?? '', 'base64'), 0) / all.length;
    this.eventBytesPerRecord = JSON.stringify(base).length / all.length;
  }

  get partitions(): number {
    return this.#lists.length;
  }

  /** The next batch of about `count` records, shared out round-robin across the partitions. */
  next(count: number): { event: KafkaEvent; records: number; payloadBytes: number } {
    const records: Record<string, RawRecord[]> = {};
    let n = 0;
    let payloadBytes = 0;
    let turn = 0;
    while (n < count) {
      const [id, list] = this.#lists[turn++ % this.#lists.length]!;
      const position = this.#position.get(id)!;
      const record = list[position.index]!;
      (records[id] ??= []).push(position.lap === 0 ? record : { ...record, offset: record.offset + position.lap * this.#span });
      payloadBytes += Buffer.byteLength(record.key ?? '', 'base64') + Buffer.byteLength(record.value ?? '', 'base64');
      position.index++;
      if (position.index === list.length) {
        position.index = 0;
        position.lap++;
      }
      n++;
    }
    return { event: { ...this.#base, records }, records: n, payloadBytes };
  }
}

const MAX_EVENT_BYTES = 6 * 1024 * 1024;

/** DynamoDB's item size: attribute names plus values (numbers approximated by their digits). */
export function dynamoItemBytes(item: Record<string, AttributeValue>): number {
  const valueBytes = (value: AttributeValue): number => {
    if (value.S !== undefined) return Buffer.byteLength(value.S, 'utf8');
    if (value.N !== undefined) return Math.ceil(value.N.replace(/^-|\.|^0+/g, '').length / 2) + 1;
    if (value.B !== undefined) return value.B.byteLength;
    if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
    if (value.M !== undefined) return 3 + Object.entries(value.M).reduce((n, [k, v]) => n + Buffer.byteLength(k) + valueBytes(v) + 1, 0);
    if (value.L !== undefined) return 3 + value.L.reduce((n, v) => n + valueBytes(v) + 1, 0);
    if (value.SS !== undefined) return value.SS.reduce((n, s) => n + Buffer.byteLength(s), 0);
    if (value.NS !== undefined) return value.NS.reduce((n, s) => n + Math.ceil(s.length / 2) + 1, 0);
    return 0;
  };
  return Object.entries(item).reduce((n, [name, value]) => n + Buffer.byteLength(name, 'utf8') + valueBytes(value), 0);
}

export async function runE2e(options: E2eOptions, log: (line: string) => void): Promise<E2eResult> {
  const stoppers: Array<() => Promise<unknown>> = [];
  try {
    const started = performance.now();
    const dynamoStarting = startDynamoDbLocal();
    const s3Emulator = await startS3Emulator();
    stoppers.push(() => s3Emulator.stop());
    const dynamo = await dynamoStarting;
    stoppers.push(() => dynamo.stop());
    const dynamoDbLocalStartMs = performance.now() - started;
    const proxy = await startFaultProxy({ target: dynamo.endpoint });
    stoppers.push(() => proxy.stop());
    const s3 = localS3Client(s3Emulator.endpoint);
    const dynamoDb = localDynamoDbClient(dynamo.endpoint);
    stoppers.push(async () => {
      s3.destroy();
      dynamoDb.destroy();
    });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await createLedgerTable(dynamoDb, TABLE);
    log(
      `  emulators up: S3 ${s3Emulator.endpoint}, DynamoDB Local ${dynamo.endpoint} (${round(dynamoDbLocalStartMs / 1000)} s), counting proxy ${proxy.endpoint}`,
    );

    // The environment the handler reads at cold start: set before it is imported.
    for (const name of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_ENDPOINT_URL', 'AWS_DEFAULT_PROFILE', 'POWERTOOLS_DEV'])
      delete process.env[name];
    Object.assign(process.env, {
      SINK_BUCKET: BUCKET,
      LEDGER_TABLE: TABLE,
      SINK_COMPRESSION: options.compression,
      AWS_REGION: LOCAL_REGION,
      AWS_ENDPOINT_URL_S3: s3Emulator.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: proxy.endpoint,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'WARN',
    });
    const handler = (await import('../../functions/msk-sink/handler.ts')).handler as unknown as Handler;

    const snapshot = (): Record<string, number> => ({ ...s3Emulator.counters, ...proxy.counters });
    const delta = (before: Record<string, number>): RequestCounts => {
      const after = snapshot();
      const d = (name: string) => (after[name] ?? 0) - (before[name] ?? 0);
      const known = ['GetItem', 'UpdateItem', 'PutObject', 'HeadObject'];
      const other = Object.keys(after)
        .filter((name) => !known.includes(name))
        .reduce((n, name) => n + d(name), 0);
      return { GetItem: d('GetItem'), UpdateItem: d('UpdateItem'), PutObject: d('PutObject'), HeadObject: d('HeadObject'), other };
    };

    const stream = new Stream(realisticEvent(MAX_EVENT_BYTES - 64 * 1024) as unknown as KafkaEvent);
    const invoke = async (event: KafkaEvent): Promise<void> => {
      await handler(JSON.parse(JSON.stringify(event)), lambdaContext('msk-s3-sink-bench', { timeoutMs: 300_000, logStreamName: 'bench' }));
    };

    // --- Requests per topic-partition per batch ----------------------------------------------
    const requests: RequestScenario[] = [];
    const scenario = async (name: string, events: KafkaEvent[]): Promise<void> => {
      const before = snapshot();
      for (const event of events) await invoke(event);
      const totals = delta(before);
      const partitionBatches = events.reduce((n, e) => n + Object.keys(e.records).length, 0);
      requests.push({
        scenario: name,
        batches: events.length,
        partitionsPerBatch: round(partitionBatches / events.length, 2),
        totals,
        perPartition: {
          ledgerReads: round(totals.GetItem / partitionBatches, 3),
          ledgerWrites: round(totals.UpdateItem / partitionBatches, 3),
          s3Puts: round(totals.PutObject / partitionBatches, 3),
          s3Heads: round(totals.HeadObject / partitionBatches, 3),
          other: round(totals.other / partitionBatches, 3),
        },
      });
    };
    const batch = () => stream.next(700).event; // 100 records per partition
    await scenario('first batch of each partition (no ledger entry yet)', [batch()]);
    const steady = Array.from({ length: 10 }, batch);
    await scenario('steady state (happy path)', steady);
    await scenario('redelivery of batches already delivered', steady.slice(-3));

    // --- Throughput -----------------------------------------------------------------------------
    const throughput: ThroughputRun[] = [];
    for (const size of options.batchRecords) {
      const count = size === 'max' ? Math.floor((MAX_EVENT_BYTES - 64 * 1024) / stream.eventBytesPerRecord) : size;
      // Prepare a few batches ahead (JSON text, as Lambda would deliver it) so that generation is not timed.
      const latencies: number[] = [];
      let records = 0;
      let payloadBytes = 0;
      let eventBytes = 0;
      const end = performance.now() + options.seconds * 1000;
      const begin = performance.now();
      let elapsed = 0;
      await invoke(stream.next(count).event); // warm-up
      while (performance.now() < end) {
        const next = stream.next(count);
        const text = JSON.stringify(next.event);
        const t0 = performance.now();
        await handler(JSON.parse(text), lambdaContext('msk-s3-sink-bench', { timeoutMs: 300_000, logStreamName: 'bench' }));
        const ms = performance.now() - t0;
        elapsed += ms;
        latencies.push(ms);
        records += next.records;
        payloadBytes += next.payloadBytes;
        eventBytes += text.length;
      }
      const seconds = elapsed / 1000;
      throughput.push({
        label: size === 'max' ? `${count} records (6 MB max event)` : `${count} records`,
        recordsPerBatch: count,
        eventMBPerBatch: round(eventBytes / latencies.length / 1024 / 1024, 2),
        seconds: round((performance.now() - begin) / 1000),
        invocations: latencies.length,
        records,
        recordsPerSecond: Math.round(records / seconds),
        eventMBPerSecond: round(eventBytes / 1024 / 1024 / seconds),
        payloadMBPerSecond: round(payloadBytes / 1024 / 1024 / seconds),
        latencyP50Ms: round(median(latencies)),
        latencyP95Ms: round(percentile(latencies, 95)),
        latencyMaxMs: round(Math.max(...latencies)),
      });
    }

    // The ledger items' size, for DynamoDB's request units.
    const scan = await dynamoDb.send(new ScanCommand({ TableName: TABLE }));
    const sizes = (scan.Items ?? []).map(dynamoItemBytes);
    return {
      dynamoDbLocalStartMs: round(dynamoDbLocalStartMs),
      requests,
      throughput,
      ledgerItemBytes: Math.max(0, ...sizes),
      ledgerItems: sizes.length,
    };
  } finally {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
  }
}
