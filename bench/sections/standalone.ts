/** Section 6 of `npm run bench`: the standalone worker on a real Kafka broker against the floor. */
import type { BenchOptions } from '../lib/options.ts';
import { int, out, section, table } from '../lib/report.ts';
import { runStandaloneBench, type StandaloneBenchResult } from '../lib/standalone.ts';
import { round } from '../lib/stats.ts';

/** Runs the broker, the floor and the worker, prints section 6, and puts its figures in `results`. */
export async function standaloneSection(options: BenchOptions, results: Record<string, unknown>): Promise<void> {
  const { standaloneRecords, standaloneRuns } = options;
  section(
    '6. Standalone worker on a real Kafka broker (one node, loopback) vs the floor: the same client (@platformatic/kafka, same fetch sizes) consuming and discarding',
  );
  const partitions = 6;
  const standalone: StandaloneBenchResult = await runStandaloneBench(
    { records: standaloneRecords, partitions, runs: standaloneRuns, flushSize: 10_000 },
    out,
  );
  table(
    ['', 'median s', 'records/s', 'MiB/s (keys+values+headers)'],
    [
      [
        'floor (consume and discard)',
        round(standalone.floorMedianMs / 1000, 2),
        int(standalone.floorRecordsPerSecond),
        standalone.floorMiBPerSecond,
      ],
      [
        'worker (file ledger, S3 emulator)',
        round(standalone.workerMedianMs / 1000, 2),
        int(standalone.workerRecordsPerSecond),
        standalone.workerMiBPerSecond,
      ],
    ],
  );
  out(
    `   ratio (floor time / worker time, median of ${standalone.runs.length} interleaved runs): ${standalone.ratio.toFixed(2)}  (aim: >= 0.7)`,
  );
  out(
    `   ${int(standalone.records)} realistic records over ${partitions} partitions; flush.size ${int(standalone.flushSize)}; both from a fresh group, join included; the worker writes`,
  );
  out('   gzip JSON Lines objects to the S3 emulator and commits a file ledger; broker, emulator, worker and floor share the 2 cores');
  results['standalone'] = standalone;
}
