/**
 * Cold start: each bundled function's size, and its module initialisation time in fresh
 * processes, as a ratio to a baseline handler that only imports and constructs the two SDK
 * clients (bench/lib/minimal-handler.ts).
 *
 * The bundles are built by the CDK construct itself (MskS3Sink's NodejsFunctions, with their own
 * esbuild options: ESM, minified, external source map, node24, the AWS SDK bundled) by
 * synthesizing a minimal stack into a temporary directory: the sink, the manifest writer (the
 * stack uses the time partitioner, which turns it on) and the baseline, bundled with the
 * construct's exported `bundlingOptions`. So the bundles measured are the ones `cdk synth` would
 * upload, without duplicating the options here.
 *
 * Initialisation: `node bench/lib/init-probe.mjs index.mjs` in a fresh process with the
 * function's environment (endpoints pointing at unreachable loopback ports: initialisation must
 * do no I/O), several rounds, every variant once per round in turn, medians; the ratio to the
 * baseline is the median of the per-round ratios (the machine's load drifts between rounds more
 * than within one). Also the sink with --enable-source-maps as the construct deploys it
 * (NODE_OPTIONS), and the unbundled handler (through tsx, and with Node 24's own type stripping).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, round } from './stats.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PROBE = join(ROOT, 'bench/lib/init-probe.mjs');

/** The functions bundled, by the names the tables use. */
export const BundleName = {
  sink: 'sink (functions/msk-sink)',
  manifestWriter: 'manifest writer (functions/manifest-writer)',
  baseline: 'baseline: the two SDK clients alone',
} as const;
export type BundleName = (typeof BundleName)[keyof typeof BundleName];

export interface BundleInfo {
  readonly name: BundleName;
  readonly dir: string;
  readonly indexBytes: number;
  readonly sourceMapBytes: number;
  /** The asset directory zipped (as uploaded: index.mjs and index.mjs.map). */
  readonly zipBytes: number;
  /** index.mjs alone, zipped. */
  readonly zipIndexOnlyBytes: number;
}

export interface InitTiming {
  readonly variant: string;
  readonly runs: number;
  readonly importMedianMs: number;
  readonly importMinMs: number;
  readonly importMaxMs: number;
  /** CPU time of the import, every thread of the process (compilation and GC helpers included). */
  readonly importCpuMedianMs: number;
  /** From the process's start to the handler being ready (Node's own start-up included). */
  readonly processToReadyMedianMs: number;
  readonly rssMedianMB: number;
}

/** A function's module initialisation against the baseline's, measured in the same rounds. */
export interface InitRatio {
  readonly name: BundleName;
  /** Median over rounds of (the function's import ms / the baseline's in the same round). */
  readonly importRatio: number;
  /** The same with CPU time. */
  readonly importCpuRatio: number;
}

export interface ColdStartResult {
  /** The sink's bundle (the figure earlier results had alone). */
  readonly bundle: BundleInfo;
  readonly bundles: readonly BundleInfo[];
  readonly synthMs: number;
  readonly init: readonly InitTiming[];
  readonly ratios: readonly InitRatio[];
}

/**
 * Synthesizes a minimal stack with MskS3Sink (bundling on, time partitioner: both functions) and
 * the baseline function, and returns each function's asset.
 */
export async function buildBundles(outdir: string): Promise<{ bundles: BundleInfo[]; synthMs: number }> {
  const started = performance.now();
  const { App, Stack } = await import('aws-cdk-lib');
  const lambda = await import('aws-cdk-lib/aws-lambda');
  const nodejs = await import('aws-cdk-lib/aws-lambda-nodejs');
  const { MskS3Sink, bundlingOptions } = await import('../../infra/msk-s3-sink.ts');
  const cdkJson = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  const app = new App({ outdir, context: { ...cdkJson.context } });
  const stack = new Stack(app, 'Bench', { env: { account: '123456789012', region: 'us-east-1' } });
  const props = {
    source: { kind: 'msk', clusterArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/bench/abcd1234-abcd-cafe-abab-9876543210ab-4' },
    topics: ['orders'],
    sinkSettings: { SINK_PARTITIONER: 'time' },
  } as const;
  const sink = new MskS3Sink(stack, 'Sink', props);
  if (!sink.manifestWriter)
    throw new Error('the benchmark stack has no manifest writer: the construct no longer turns it on with the time partitioner');
  const baseline = new nodejs.NodejsFunction(stack, 'Baseline', {
    entry: join(ROOT, 'bench/lib/minimal-handler.ts'),
    handler: 'handler',
    runtime: lambda.Runtime.NODEJS_24_X,
    ...bundlingOptions(props),
  });
  app.synth();
  const synthMs = performance.now() - started;
  const template = JSON.parse(readFileSync(join(outdir, `${stack.artifactId}.template.json`), 'utf8')) as {
    Resources: Record<string, { Properties?: { Code?: { S3Key?: unknown } } }>;
  };
  const assetOf = (fn: InstanceType<typeof nodejs.NodejsFunction>): string => {
    const logicalId = stack.getLogicalId(fn.node.defaultChild as InstanceType<typeof lambda.CfnFunction>);
    const key = template.Resources[logicalId]?.Properties?.Code?.S3Key;
    const dir = typeof key === 'string' ? join(outdir, `asset.${key.replace(/\.zip$/, '')}`) : '';
    if (!existsSync(join(dir, 'index.mjs')))
      throw new Error(`${fn.node.path}: no bundled index.mjs found in ${outdir} (S3Key ${String(key)})`);
    return dir;
  };
  const info = (name: BundleName, dir: string): BundleInfo => {
    const zipOf = (files: string[]): number => {
      const zipPath = join(outdir, `bench-${files.length}.zip`);
      rmSync(zipPath, { force: true });
      execFileSync('zip', ['-q', '-X', zipPath, ...files], { cwd: dir });
      return statSync(zipPath).size;
    };
    const files = readdirSync(dir);
    return {
      name,
      dir,
      indexBytes: statSync(join(dir, 'index.mjs')).size,
      sourceMapBytes: files.includes('index.mjs.map') ? statSync(join(dir, 'index.mjs.map')).size : 0,
      zipBytes: zipOf(files),
      zipIndexOnlyBytes: zipOf(['index.mjs']),
    };
  };
  return {
    bundles: [
      info(BundleName.sink, assetOf(sink.function)),
      info(BundleName.manifestWriter, assetOf(sink.manifestWriter)),
      info(BundleName.baseline, assetOf(baseline)),
    ],
    synthMs: round(synthMs),
  };
}

/** The function's environment, pointing at loopback ports nothing listens on. */
function functionEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    SINK_BUCKET: 'bench-bucket',
    LEDGER_TABLE: 'bench-ledger',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
    AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_EC2_METADATA_DISABLED: 'true',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'WARN',
    ...extra,
  };
  return env;
}

interface Variant {
  readonly name: string;
  readonly args: string[];
  readonly env: NodeJS.ProcessEnv;
}

interface Sample {
  readonly importMs: number;
  readonly importCpuMs: number;
  readonly processToReadyMs: number;
  readonly rssBytes: number;
}

/**
 * Runs every variant `runs + 1` times, interleaved (A B C A B C …); the first round warms caches.
 * Returns each variant's samples, round by round.
 */
function probeAll(variants: readonly Variant[], runs: number): Map<string, Sample[]> {
  const samples = new Map<string, Sample[]>(variants.map((variant) => [variant.name, []]));
  for (let i = 0; i < runs + 1; i++) {
    for (const variant of variants) {
      const result = spawnSync(process.execPath, variant.args, { cwd: ROOT, env: variant.env, encoding: 'utf8', timeout: 60_000 });
      if (result.status !== 0) throw new Error(`${variant.name}: init probe failed (${result.status}): ${result.stderr.slice(-2000)}`);
      const line = result.stdout.trim().split('\n').at(-1)!;
      if (i > 0) samples.get(variant.name)!.push(JSON.parse(line) as Sample);
    }
  }
  return samples;
}

function timing(variant: string, list: readonly Sample[]): InitTiming {
  const imports = list.map((s) => s.importMs);
  return {
    variant,
    runs: list.length,
    importMedianMs: round(median(imports)),
    importMinMs: round(Math.min(...imports)),
    importMaxMs: round(Math.max(...imports)),
    importCpuMedianMs: round(median(list.map((s) => s.importCpuMs))),
    processToReadyMedianMs: round(median(list.map((s) => s.processToReadyMs))),
    rssMedianMB: round(median(list.map((s) => s.rssBytes)) / 1024 / 1024),
  };
}

/** Median over rounds of a variant's figure over the baseline's in the same round. */
function medianRatio(of: readonly Sample[], to: readonly Sample[], figure: (s: Sample) => number): number {
  return round(median(of.map((sample, i) => figure(sample) / figure(to[i]!))), 2);
}

export async function measureColdStart(options: { runs: number; keep?: boolean }, log: (line: string) => void): Promise<ColdStartResult> {
  const outdir = mkdtempSync(join(tmpdir(), 'msk-s3-sink-bench-cdk-'));
  try {
    const { bundles, synthMs } = await buildBundles(outdir);
    log(`  bundled by the construct in ${round(synthMs / 1000)} s: ${outdir}`);
    const index = (name: BundleName) => join(bundles.find((b) => b.name === name)!.dir, 'index.mjs');
    const handlerTs = resolve(ROOT, 'functions/msk-sink/handler.ts');
    const tsx = ['--import', 'tsx'];
    // The manifest writer needs the time partitioner and its topics; the others ignore them.
    const manifestEnv = functionEnv({ SINK_PARTITIONER: 'time', MANIFEST_TOPICS: 'orders' });
    const asDeployed = 'sink + --enable-source-maps (as deployed)';
    const samples = probeAll(
      [
        { name: BundleName.baseline, args: [PROBE, index(BundleName.baseline)], env: functionEnv() },
        { name: BundleName.sink, args: [PROBE, index(BundleName.sink)], env: functionEnv() },
        { name: BundleName.manifestWriter, args: [PROBE, index(BundleName.manifestWriter)], env: manifestEnv },
        { name: asDeployed, args: ['--enable-source-maps', PROBE, index(BundleName.sink)], env: functionEnv() },
        { name: 'unbundled handler.ts through tsx', args: [...tsx, PROBE, handlerTs], env: functionEnv() },
        { name: "unbundled handler.ts, Node's own type stripping", args: [PROBE, handlerTs], env: functionEnv() },
      ],
      options.runs,
    );
    const baseline = samples.get(BundleName.baseline)!;
    const ratios = [BundleName.sink, BundleName.manifestWriter].map((name) => ({
      name,
      importRatio: medianRatio(samples.get(name)!, baseline, (s) => s.importMs),
      importCpuRatio: medianRatio(samples.get(name)!, baseline, (s) => s.importCpuMs),
    }));
    const shown = options.keep ? bundles : bundles.map((b) => ({ ...b, dir: '(temporary, removed)' }));
    return {
      bundle: shown.find((b) => b.name === BundleName.sink)!,
      bundles: shown,
      synthMs,
      init: [...samples].map(([variant, list]) => timing(variant, list)),
      ratios,
    };
  } finally {
    if (!options.keep) rmSync(outdir, { recursive: true, force: true });
  }
}
