/** Sections 1 and 1b of `npm run bench`: the handler's throughput in memory, per compression and per format. */
import { measureFormats, measureHandlerThroughput } from '../lib/handler.ts';
import type { BenchOptions } from '../lib/options.ts';
import { int, mib, out, section, table } from '../lib/report.ts';

/** Measures and prints sections 1 and 1b, and puts their figures in `results`. */
export async function handlerSection(options: BenchOptions, results: Record<string, unknown>): Promise<void> {
  const { runs } = options;
  section('1. Handler throughput, in memory (parse, encode, compress; S3 and DynamoDB in memory), realistic 6 MB batch');
  out(
    '   floor = the same bytes through base64 decode and the same compressor alone; ratio = floor time / handler time (1 = as fast as the floor)',
  );
  const handler = await measureHandlerThroughput({
    compressions: ['gzip', 'zstd', 'none'],
    runs,
    warmup: 3,
    batchBytes: 6 * 1024 * 1024,
    data: 'realistic',
  });
  const first = handler[0]!;
  out(
    `   batch: ${int(first.records)} records over ${first.partitions} partitions, ${mib(first.eventBytes)} of event JSON, ${mib(first.keyValueBytes)} of keys and values`,
  );
  table(
    [
      'compression',
      'handler ms',
      'floor ms',
      'ratio',
      'CPU ratio',
      'ceiling',
      'own work ms',
      'records/s',
      'MB/s (event)',
      'MB/s (payload)',
      'bytes out/record',
      'out/in',
    ],
    handler.map((r) => [
      r.compression,
      r.handlerMedianMs,
      r.floorMedianMs,
      r.ratioToFloor.toFixed(2),
      r.cpuRatioToFloor.toFixed(2),
      r.ceilingRatio?.toFixed(2) ?? '',
      r.ownWorkMs ?? '',
      int(r.handlerRecordsPerSecond),
      r.handlerMBPerSecond,
      r.handlerPayloadMBPerSecond,
      r.bytesOutPerRecord,
      (r.storedBytes / r.keyValueBytes).toFixed(2),
    ]),
  );
  out('   (medians of interleaved runs; the ratio is the median of per-pair ratios; aim: ratio >= 0.8)');
  out(
    "   ceiling = floor time / (the floor's decode + the same compressor on the handler's own bodies, uncompressed): the ratio a handler",
  );
  out("   writing this format with no other work would reach; own work = handler time - that ideal handler's (parse, validate, encode)");
  results['handler'] = handler;

  section("1b. Handler throughput per format, same batch (floor: base64 decode + the format's compressor; Parquet snappy: decode only)");
  const formats = await measureFormats({
    runs: Math.max(3, Math.round(runs / 2)),
    warmup: 2,
    batchBytes: 6 * 1024 * 1024,
    data: 'realistic',
  });
  table(
    [
      'format',
      'handler ms',
      'floor ms',
      'ratio',
      'CPU ratio',
      'records/s',
      'MB/s (payload)',
      'objects',
      'records in objects',
      'dead letters',
      'bytes out/record',
    ],
    formats.map((r) => [
      r.format,
      r.handlerMedianMs,
      r.floorMedianMs,
      r.ratioToFloor.toFixed(2),
      r.cpuRatioToFloor.toFixed(2),
      int(r.handlerRecordsPerSecond),
      r.handlerPayloadMBPerSecond,
      r.objects,
      int(r.objectRecords),
      int(r.deadLetters),
      r.bytesOutPerRecord,
    ]),
  );
  out(
    '   (raw bytes: values holding the separator \\n (pretty-printed JSON) are poison; Parquet: values that are not JSON objects (text, binary) are poison;',
  );
  out(
    '    both with errors.tolerance=all, so they go to the dead letters, which the handler time includes. bytes out/record: object bytes / records in objects)',
  );
  results['formats'] = formats;
}
