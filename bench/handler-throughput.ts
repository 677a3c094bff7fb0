/**
 * Handler throughput on a 6 MB batch, as a ratio to the floor measured in the same run.
 *
 * - handler: the sink's own work on one Lambda event — parse (validate, base64-decode), encode
 *   JSON Lines, compress — with the ledger and object store in memory (no network).
 * - floor: the same base64 strings (keys and values) decoded, and the decoded bytes, concatenated,
 *   through the same compressor (the sink's own codec) in one call.
 *
 * Usage: npm run bench:handler [-- --compression gzip|zstd|none --runs N --batch-mb 6 --data realistic|sim --json FILE]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../lib/config.ts';
import { compressionFor } from '../lib/format/compression.ts';
import { createSink } from '../lib/sink.ts';
import { generateLog, rng, toKafkaEvent } from '../test/support/kafka-sim.ts';
import { realisticEvent } from './realistic-data.ts';
import { ManualClock, MemoryLedger, MemoryObjectStore } from '../test/support/memory-ports.ts';
import { silentLogger, silentMetrics } from '../test/support/recorders.ts';

const { values } = parseArgs({
  options: {
    compression: { type: 'string', default: 'gzip' },
    runs: { type: 'string', default: '15' },
    json: { type: 'string' },
    'batch-mb': { type: 'string', default: '6' },
    data: { type: 'string', default: 'realistic' },
  },
});
const compression = values.compression as 'gzip' | 'zstd' | 'none';
const runs = Number(values.runs);
const targetBytes = Number(values['batch-mb']) * 1024 * 1024;

// A batch the size Lambda sends at most (6 MB of event JSON). `realistic` (default): orders,
// clickstream and inventory values over 7 partitions (bench/realistic-data.ts); `sim`: the
// protocol tests' generator, whose repetitive values make compression unrealistically cheap.
function simEvent(bytes: number) {
  const random = rng(42);
  const logs = Array.from({ length: 4 }, (_, partition) =>
    generateLog({ topic: 'orders', partition, count: 200_000, random, textRate: 0.02, gapRate: 0 }),
  );
  const full = JSON.stringify(toKafkaEvent(logs.map((records) => ({ topic: 'orders', partition: records[0]!.partition, records }))));
  const keep = Math.floor(logs[0]!.length * (bytes / full.length));
  return toKafkaEvent(logs.map((records) => ({ topic: 'orders', partition: records[0]!.partition, records: records.slice(0, keep) })));
}
if (values.data !== 'realistic' && values.data !== 'sim') throw new Error(`--data: expected realistic or sim, got ${values.data}`);
const event = values.data === 'sim' ? simEvent(targetBytes) : realisticEvent(targetBytes);
const eventText = JSON.stringify(event);
const lists = Object.values(event.records) as Array<Array<{ key?: string; value?: string }>>;
const recordCount = lists.reduce((n, list) => n + list.length, 0);
const base64Strings: string[] = lists.flatMap((list) => list.flatMap((record) => [record.key ?? '', record.value ?? '']));

// The floor's compressor is the sink's own codec (same library, level and parameters).
const compress = (bytes: Uint8Array): Uint8Array => compressionFor(compression).compress(bytes);

const config = loadConfig({ SINK_BUCKET: 'bench-bucket', LEDGER_TABLE: 'bench-ledger', SINK_COMPRESSION: compression });

/** Wall time and CPU time (all threads of the process: GC helpers included) in ms. */
interface Timing {
  readonly wall: number;
  readonly cpu: number;
}
function startTimer(): () => Timing {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(cpu);
    return { wall: performance.now() - wall, cpu: (used.user + used.system) / 1000 };
  };
}

let storedBytes = 0;
let objects = 0;
async function timeHandler(): Promise<Timing> {
  const ports = { ledger: new MemoryLedger(), store: new MemoryObjectStore(), clock: new ManualClock() };
  const sink = createSink({ config, ports, logger: silentLogger, metrics: silentMetrics });
  const parsed = JSON.parse(eventText); // Lambda hands the handler a parsed object
  const stop = startTimer();
  await sink.handle(parsed);
  const timing = stop();
  objects = ports.store.objects.size;
  storedBytes = [...ports.store.objects.values()].reduce((n, object) => n + object.body.byteLength, 0);
  return timing;
}

let rawBytes = 0;
function timeFloor(): Timing {
  const stop = startTimer();
  const decoded = base64Strings.map((text) => Buffer.from(text, 'base64'));
  const all = Buffer.concat(decoded);
  compress(all);
  const timing = stop();
  rawBytes = all.byteLength;
  return timing;
}

const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
const handlerTimes: Timing[] = [];
const floorTimes: Timing[] = [];
for (let run = 0; run < runs + 3; run++) {
  // Interleaved so that both see the same machine; the first 3 runs warm up.
  const h = await timeHandler();
  const f = timeFloor();
  if (run >= 3) {
    handlerTimes.push(h);
    floorTimes.push(f);
  }
}
const handlerMs = median(handlerTimes.map((t) => t.wall));
const floorMs = median(floorTimes.map((t) => t.wall));
const handlerCpuMs = median(handlerTimes.map((t) => t.cpu));
const floorCpuMs = median(floorTimes.map((t) => t.cpu));
const mb = eventText.length / 1024 / 1024;
const result = {
  data: values.data,
  compression,
  eventBytes: eventText.length,
  partitions: lists.length,
  records: recordCount,
  keyValueBytes: rawBytes,
  storedBytes,
  objects,
  runs,
  handlerMedianMs: Number(handlerMs.toFixed(1)),
  floorMedianMs: Number(floorMs.toFixed(1)),
  ratioToFloor: Number((floorMs / handlerMs).toFixed(2)),
  handlerRecordsPerSecond: Math.round(recordCount / (handlerMs / 1000)),
  handlerMBPerSecond: Number((mb / (handlerMs / 1000)).toFixed(1)),
  floorRecordsPerSecond: Math.round(recordCount / (floorMs / 1000)),
  floorMBPerSecond: Number((mb / (floorMs / 1000)).toFixed(1)),
  // CPU time, steadier than wall time on a shared machine (and what "per core" means).
  handlerCpuMedianMs: Number(handlerCpuMs.toFixed(1)),
  floorCpuMedianMs: Number(floorCpuMs.toFixed(1)),
  cpuRatioToFloor: Number((floorCpuMs / handlerCpuMs).toFixed(2)),
  node: process.version,
};
const rows = Object.entries(result).map(([name, value]) => ({ name, value }));
console.table(Object.fromEntries(rows.map((row) => [row.name, row.value])));
if (values.json) writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
