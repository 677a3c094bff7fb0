/** Section 5 of `npm run bench`: each function's bundle and its module initialisation against a baseline. */
import { measureColdStart } from '../lib/cold-start.ts';
import type { BenchOptions } from '../lib/options.ts';
import { kib, out, section, table } from '../lib/report.ts';

/** Bundles the functions, measures their initialisation, prints section 5, and puts its figures in `results`. */
export async function coldStartSection(options: BenchOptions, results: Record<string, unknown>): Promise<void> {
  const { initRuns } = options;
  section(
    '5. Cold start: each function as the CDK construct bundles it (esbuild through NodejsFunction), and its module initialisation in fresh Node processes against a baseline of the two SDK clients alone',
  );
  const cold = await measureColdStart({ runs: initRuns }, out);
  table(
    ['function', 'index.mjs', 'bytes', 'index.mjs.map', 'zip (index.mjs + map, as uploaded)', 'zip (index.mjs alone)'],
    cold.bundles.map((b) => [b.name, kib(b.indexBytes), b.indexBytes, kib(b.sourceMapBytes), kib(b.zipBytes), kib(b.zipIndexOnlyBytes)]),
  );
  out();
  table(
    ['variant', 'import median ms', 'min', 'max', 'import CPU ms', 'process start to ready ms', 'RSS MB'],
    cold.init.map((t) => [
      t.variant,
      t.importMedianMs,
      t.importMinMs,
      t.importMaxMs,
      t.importCpuMedianMs,
      t.processToReadyMedianMs,
      t.rssMedianMB,
    ]),
  );
  out(
    `   (${initRuns} fresh processes per variant, interleaved, after one warm-up round; env points at unreachable loopback endpoints: initialisation does no I/O)`,
  );
  out();
  table(
    ['function', 'init / baseline (wall)', 'init / baseline (CPU)'],
    cold.ratios.map((r) => [r.name, r.importRatio, r.importCpuRatio]),
  );
  out("   (median over rounds of the function's import time over the baseline's in the same round; aim: at most 1.3)");
  results['coldStart'] = cold;
}
