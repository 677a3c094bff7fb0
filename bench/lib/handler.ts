/**
 * Handler throughput on a Lambda-sized batch, as a ratio to the floor measured in the same run.
 *
 * - handler: the sink's own work on one Lambda event — parse (validate, base64-decode), encode
 *   JSON Lines, compress — with the ledger and object store in memory (no network).
 * - floor: the same base64 strings (keys and values) decoded, and the decoded bytes, concatenated,
 *   through the same compressor (the sink's own codec) in one call.
 *
 * Runs are interleaved (a handler run, a floor run and a ceiling run per round, in a shuffled
 * order; see `shuffle`) so that all see the same machine; the first `warmup` rounds are not
 * counted; medians are reported.
 */
import { loadConfig } from '../../lib/config/config.ts';
import { compressionFor } from '../../lib/format/compression.ts';
import { createSink } from '../../lib/sink/sink.ts';
import { generateLog } from '../../testkit/kafka/generate.ts';
import { rng } from '../../testkit/kafka/records.ts';
import { toKafkaEvent } from '../../testkit/kafka/events.ts';
import { ManualClock, MemoryLedger, MemoryObjectStore } from '../../testkit/memory-ports.ts';
import { silentLogger, silentMetrics } from '../../testkit/recorders.ts';
import { realisticEvent } from '../realistic-data.ts';
import { median, round, startTimer, type Timing } from './stats.ts';

export type Compression = 'gzip' | 'zstd' | 'none';
export type DataKind = 'realistic' | 'sim';

export interface HandlerBenchOptions {
  readonly compressions: readonly Compression[];
  /** Counted runs per compression. */
  readonly runs: number;
  readonly warmup: number;
  readonly batchBytes: number;
  readonly data: DataKind;
}

export interface HandlerResult {
  readonly data: DataKind;
  readonly compression: Compression;
  readonly eventBytes: number;
  readonly partitions: number;
  readonly records: number;
  /** Bytes of keys and values after base64 decoding (what the floor compresses). */
  readonly keyValueBytes: number;
  /** Bytes of the objects written (compressed JSON Lines). */
  readonly storedBytes: number;
  readonly objects: number;
  readonly runs: number;
  readonly handlerMedianMs: number;
  readonly floorMedianMs: number;
  /** floor / handler: 1 means the handler is as fast as the floor. */
  readonly ratioToFloor: number;
  readonly handlerRecordsPerSecond: number;
  /** MB (2^20 bytes) of event JSON per second. */
  readonly handlerMBPerSecond: number;
  /** MB of decoded keys and values per second. */
  readonly handlerPayloadMBPerSecond: number;
  readonly floorRecordsPerSecond: number;
  readonly floorMBPerSecond: number;
  readonly bytesOutPerRecord: number;
  /** CPU time, steadier than wall time on a shared machine (and what "per core" means). */
  readonly handlerCpuMedianMs: number;
  readonly floorCpuMedianMs: number;
  readonly cpuRatioToFloor: number;
  /**
   * The format's ceiling: floor time / (the floor's base64 decode + the same compressor on the
   * bodies the handler writes, uncompressed). A handler with no work of its own besides decoding
   * would reach it; the JSON Lines envelope (topic, offsets, …, headers) makes the bodies larger
   * than the keys and values alone. Undefined for the format variants.
   */
  readonly ceilingRatio?: number;
  /** Handler time minus that ideal handler's: the handler's own work (parse, validate, encode), ms. */
  readonly ownWorkMs?: number;
}

// `sim`: the protocol tests' generator, whose repetitive values make compression unrealistically cheap.
function simEvent(bytes: number) {
  const random = rng(42);
  const logs = Array.from({ length: 4 }, (_, partition) =>
    generateLog({ topic: 'orders', partition, count: 200_000, random, textRate: 0.02, gapRate: 0 }),
  );
  const full = JSON.stringify(toKafkaEvent(logs.map((records) => ({ topic: 'orders', partition: records[0]!.partition, records }))));
  const keep = Math.floor(logs[0]!.length * (bytes / full.length));
  return toKafkaEvent(logs.map((records) => ({ topic: 'orders', partition: records[0]!.partition, records: records.slice(0, keep) })));
}

/** The benchmark batch: `realistic` (bench/realistic-data.ts, default) or `sim`. */
export function benchEvent(data: DataKind, bytes: number): unknown {
  return data === 'sim' ? simEvent(bytes) : realisticEvent(bytes);
}

interface Prepared {
  readonly eventText: string;
  readonly recordCount: number;
  readonly partitions: number;
  readonly base64Strings: readonly string[];
}

function prepare(event: unknown): Prepared {
  const eventText = JSON.stringify(event);
  const lists = Object.values((event as { records: Record<string, unknown[]> }).records) as Array<Array<{ key?: string; value?: string }>>;
  return {
    eventText,
    recordCount: lists.reduce((n, list) => n + list.length, 0),
    partitions: lists.length,
    base64Strings: lists.flatMap((list) => list.flatMap((record) => [record.key ?? '', record.value ?? ''])),
  };
}

/** A format to measure: its sink settings, and the codec the floor uses (the same compressor). */
export interface FormatVariant {
  readonly label: string;
  readonly env: Readonly<Record<string, string>>;
  readonly floor: Compression;
}

/** The format rows of the benchmark. Parquet and raw bytes cannot hold every value: poison records go to the dead letters. */
export const FORMAT_VARIANTS: readonly FormatVariant[] = [
  { label: 'jsonl gzip', env: { SINK_COMPRESSION: 'gzip' }, floor: 'gzip' },
  { label: 'jsonl zstd', env: { SINK_COMPRESSION: 'zstd' }, floor: 'zstd' },
  { label: 'raw gzip', env: { SINK_FORMAT: 'raw', SINK_COMPRESSION: 'gzip', SINK_ERRORS_TOLERANCE: 'all' }, floor: 'gzip' },
  { label: 'raw zstd', env: { SINK_FORMAT: 'raw', SINK_COMPRESSION: 'zstd', SINK_ERRORS_TOLERANCE: 'all' }, floor: 'zstd' },
  { label: 'parquet snappy', env: { SINK_FORMAT: 'parquet', SINK_COMPRESSION: 'snappy', SINK_ERRORS_TOLERANCE: 'all' }, floor: 'none' },
  { label: 'parquet gzip', env: { SINK_FORMAT: 'parquet', SINK_COMPRESSION: 'gzip', SINK_ERRORS_TOLERANCE: 'all' }, floor: 'gzip' },
  { label: 'parquet zstd', env: { SINK_FORMAT: 'parquet', SINK_COMPRESSION: 'zstd', SINK_ERRORS_TOLERANCE: 'all' }, floor: 'zstd' },
];

/** Measures one compression (or format variant); see the module comment. */
export async function measureHandler(
  compression: Compression,
  prepared: Prepared,
  options: HandlerBenchOptions,
  variant?: FormatVariant,
): Promise<HandlerResult & { deadLetters: number; objectRecords: number; format?: string }> {
  const config = loadConfig({ SINK_BUCKET: 'bench-bucket', LEDGER_TABLE: 'bench-ledger', SINK_COMPRESSION: compression, ...variant?.env });
  const codec = compressionFor(variant?.floor ?? compression);
  let deadLetters = 0;
  let objectRecords = 0;
  let storedBytes = 0;
  let objects = 0;
  let rawBytes = 0;

  async function timeHandler(): Promise<Timing> {
    const ports = { ledger: new MemoryLedger(), store: new MemoryObjectStore(), clock: new ManualClock() };
    const sink = createSink({ config, ports, logger: silentLogger, metrics: silentMetrics });
    const parsed = JSON.parse(prepared.eventText); // Lambda hands the handler a parsed object
    const stop = startTimer();
    await sink.handle(parsed);
    const timing = stop();
    const data = [...ports.store.objects.values()].filter((object) => object.key.startsWith(config.prefix));
    objects = data.length;
    storedBytes = data.reduce((n, object) => n + object.body.byteLength, 0);
    objectRecords = data.reduce((n, object) => n + Number(object.metadata['record-count'] ?? 0), 0);
    deadLetters = ports.store.objects.size - data.length;
    return timing;
  }

  // The bodies the handler writes, uncompressed (JSON Lines compacts values and adds the envelope).
  const bodies = variant ? [] : await uncompressedBodies(prepared);

  function timeCeiling(): Timing {
    const stop = startTimer();
    Buffer.concat(prepared.base64Strings.map((text) => Buffer.from(text, 'base64')));
    for (const body of bodies) codec.compress(body);
    return stop();
  }

  function timeFloor(): Timing {
    const stop = startTimer();
    const decoded = prepared.base64Strings.map((text) => Buffer.from(text, 'base64'));
    const all = Buffer.concat(decoded);
    codec.compress(all);
    const timing = stop();
    rawBytes = all.byteLength;
    return timing;
  }

  const handlerTimes: Timing[] = [];
  const floorTimes: Timing[] = [];
  const ceilingTimes: Timing[] = [];
  for (let run = 0; run < options.runs + options.warmup; run++) {
    // In a shuffled order (see `shuffle`): handler, floor and ceiling.
    let h: Timing | undefined;
    let f: Timing | undefined;
    let c: Timing | undefined;
    for (const which of shuffle(variant ? ['handler', 'floor'] : ['handler', 'floor', 'ceiling'])) {
      if (which === 'handler') h = await timeHandler();
      else if (which === 'floor') f = timeFloor();
      else c = timeCeiling();
    }
    if (run >= options.warmup) {
      handlerTimes.push(h!);
      floorTimes.push(f!);
      if (c) ceilingTimes.push(c);
    }
  }
  const ceilingMs = ceilingTimes.length > 0 ? median(ceilingTimes.map((t) => t.wall)) : undefined;
  const handlerMs = median(handlerTimes.map((t) => t.wall));
  const floorMs = median(floorTimes.map((t) => t.wall));
  const handlerCpuMs = median(handlerTimes.map((t) => t.cpu));
  const floorCpuMs = median(floorTimes.map((t) => t.cpu));
  const mb = prepared.eventText.length / 1024 / 1024;
  const records = prepared.recordCount;
  return {
    ...(variant ? { format: variant.label } : {}),
    deadLetters,
    objectRecords,
    data: options.data,
    compression,
    eventBytes: prepared.eventText.length,
    partitions: prepared.partitions,
    records,
    keyValueBytes: rawBytes,
    storedBytes,
    objects,
    runs: options.runs,
    handlerMedianMs: round(handlerMs),
    floorMedianMs: round(floorMs),
    ratioToFloor: round(floorMs / handlerMs, 2),
    handlerRecordsPerSecond: Math.round(records / (handlerMs / 1000)),
    handlerMBPerSecond: round(mb / (handlerMs / 1000)),
    handlerPayloadMBPerSecond: round(rawBytes / 1024 / 1024 / (handlerMs / 1000)),
    floorRecordsPerSecond: Math.round(records / (floorMs / 1000)),
    floorMBPerSecond: round(mb / (floorMs / 1000)),
    bytesOutPerRecord: round(storedBytes / Math.max(1, objectRecords)),
    handlerCpuMedianMs: round(handlerCpuMs),
    floorCpuMedianMs: round(floorCpuMs),
    cpuRatioToFloor: round(floorCpuMs / handlerCpuMs, 2),
    ...(ceilingMs === undefined ? {} : { ceilingRatio: round(floorMs / ceilingMs, 2), ownWorkMs: round(handlerMs - ceilingMs) }),
  };
}

/**
 * The order of the runs in each round, shuffled (seeded, so every benchmark run shuffles
 * alike). A fixed order lines the runs up with the garbage collector's cycles: each handler run
 * parses a 6 MB event, which V8 allocates straight into the old generation, so a full
 * collection comes every few runs, and with a fixed order it lands on the same kind of run
 * round after round (measured: the gzip handler at 0.73 or at 0.80 of the floor depending on
 * the phase). Shuffled, it falls on runs of every kind, and the medians see through it.
 */
const orderRandom = rng(20261126);
function shuffle<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(orderRandom() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Bodies per batch: every run and compression of one batch compresses the same ones. */
const bodiesOf = new WeakMap<Prepared, Promise<Uint8Array[]>>();

/** The object bodies the sink writes for the event with compression `none` (JSON Lines, default layout); once per batch. */
function uncompressedBodies(prepared: Prepared): Promise<Uint8Array[]> {
  let bodies = bodiesOf.get(prepared);
  if (bodies === undefined) bodiesOf.set(prepared, (bodies = writeUncompressed(prepared)));
  return bodies;
}

async function writeUncompressed(prepared: Prepared): Promise<Uint8Array[]> {
  const config = loadConfig({ SINK_BUCKET: 'bench-bucket', LEDGER_TABLE: 'bench-ledger', SINK_COMPRESSION: 'none' });
  const ports = { ledger: new MemoryLedger(), store: new MemoryObjectStore(), clock: new ManualClock() };
  await createSink({ config, ports, logger: silentLogger, metrics: silentMetrics }).handle(JSON.parse(prepared.eventText));
  return [...ports.store.objects.values()].filter((object) => object.key.startsWith(config.prefix)).map((object) => object.body);
}

/**
 * Every compression on the same batch. The compressions are interleaved too: each round runs
 * one handler/floor pair per compression, so a slow spell of the machine hits all of them.
 */
export async function measureHandlerThroughput(options: HandlerBenchOptions): Promise<HandlerResult[]> {
  const prepared = prepare(benchEvent(options.data, options.batchBytes));
  // Rounds of one run each, interleaved across compressions; results merged per compression.
  const perCompression = new Map<Compression, HandlerResult[]>();
  const total = options.runs + options.warmup;
  for (let round = 0; round < total; round++) {
    for (const compression of shuffle(options.compressions)) {
      const one = await measureHandler(compression, prepared, { ...options, runs: 1, warmup: 0 });
      if (round >= options.warmup) (perCompression.get(compression) ?? perCompression.set(compression, []).get(compression)!).push(one);
    }
  }
  return options.compressions.map((compression) => merge(perCompression.get(compression)!, options.runs));
}

function merge(list: readonly HandlerResult[], runs: number): HandlerResult {
  const first = list[0]!;
  const handlerMs = median(list.map((r) => r.handlerMedianMs));
  const floorMs = median(list.map((r) => r.floorMedianMs));
  const handlerCpuMs = median(list.map((r) => r.handlerCpuMedianMs));
  const floorCpuMs = median(list.map((r) => r.floorCpuMedianMs));
  const mb = first.eventBytes / 1024 / 1024;
  return {
    ...first,
    runs,
    handlerMedianMs: round(handlerMs),
    floorMedianMs: round(floorMs),
    // The median of the per-pair ratios: each pair ran back to back on the same machine state.
    ratioToFloor: round(median(list.map((r) => r.floorMedianMs / r.handlerMedianMs)), 2),
    handlerRecordsPerSecond: Math.round(first.records / (handlerMs / 1000)),
    handlerMBPerSecond: round(mb / (handlerMs / 1000)),
    handlerPayloadMBPerSecond: round(first.keyValueBytes / 1024 / 1024 / (handlerMs / 1000)),
    floorRecordsPerSecond: Math.round(first.records / (floorMs / 1000)),
    floorMBPerSecond: round(mb / (floorMs / 1000)),
    handlerCpuMedianMs: round(handlerCpuMs),
    floorCpuMedianMs: round(floorCpuMs),
    cpuRatioToFloor: round(median(list.map((r) => r.floorCpuMedianMs / r.handlerCpuMedianMs)), 2),
    ...(first.ceilingRatio === undefined
      ? {}
      : { ceilingRatio: round(median(list.map((r) => r.ceilingRatio!)), 2), ownWorkMs: round(median(list.map((r) => r.ownWorkMs!))) }),
  };
}

export { prepare as prepareEvent };

/** Every format variant on the same batch, interleaved like the compressions. */
export async function measureFormats(
  options: Omit<HandlerBenchOptions, 'compressions'>,
  variants: readonly FormatVariant[] = FORMAT_VARIANTS,
) {
  const prepared = prepare(benchEvent(options.data, options.batchBytes));
  const per = new Map<string, Array<Awaited<ReturnType<typeof measureHandler>>>>();
  for (let round = 0; round < options.runs + options.warmup; round++) {
    for (const variant of shuffle(variants)) {
      const one = await measureHandler('gzip', prepared, { ...options, compressions: [], runs: 1, warmup: 0 }, variant);
      if (round >= options.warmup) (per.get(variant.label) ?? per.set(variant.label, []).get(variant.label)!).push(one);
    }
  }
  return variants.map((variant) => {
    const list = per.get(variant.label)!;
    return {
      ...merge(list, options.runs),
      format: variant.label,
      deadLetters: list[0]!.deadLetters,
      objectRecords: list[0]!.objectRecords,
    };
  });
}
