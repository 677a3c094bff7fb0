/**
 * Cold start: the bundled function's size, and its module initialisation time in fresh processes.
 *
 * The bundle is built by the CDK construct itself (MskS3Sink's NodejsFunction, with its own
 * esbuild options: ESM, minified, external source map, node24, the AWS SDK bundled) by
 * synthesizing a minimal stack into a temporary directory, so the bundle measured is the one
 * `cdk synth` would upload, without duplicating the options here.
 *
 * Initialisation: `node bench/lib/init-probe.mjs index.mjs` in a fresh process with the
 * function's environment (endpoints pointing at unreachable loopback ports: initialisation must
 * do no I/O), several runs, median; the same for the unbundled handler (through tsx, and with
 * Node 24's own type stripping), and for the bundle with --enable-source-maps as the construct
 * deploys it (NODE_OPTIONS).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, round } from './stats.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PROBE = join(ROOT, 'bench/lib/init-probe.mjs');

export interface BundleInfo {
  readonly dir: string;
  readonly indexBytes: number;
  readonly sourceMapBytes: number;
  /** The asset directory zipped (as uploaded: index.mjs and index.mjs.map). */
  readonly zipBytes: number;
  /** index.mjs alone, zipped. */
  readonly zipIndexOnlyBytes: number;
  readonly synthMs: number;
}

export interface InitTiming {
  readonly variant: string;
  readonly runs: number;
  readonly importMedianMs: number;
  readonly importMinMs: number;
  readonly importMaxMs: number;
  /** From the process's start to the handler being ready (Node's own start-up included). */
  readonly processToReadyMedianMs: number;
  readonly rssMedianMB: number;
}

export interface ColdStartResult {
  readonly bundle: BundleInfo;
  readonly init: readonly InitTiming[];
}

/** Synthesizes a minimal stack with MskS3Sink (bundling on) and returns its function's asset. */
export async function buildBundle(outdir: string): Promise<BundleInfo> {
  const started = performance.now();
  const { App, Stack } = await import('aws-cdk-lib');
  const { MskS3Sink } = await import('../../infra/msk-s3-sink.ts');
  const cdkJson = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  const app = new App({ outdir, context: { ...cdkJson.context } });
  const stack = new Stack(app, 'Bench', { env: { account: '123456789012', region: 'us-east-1' } });
  new MskS3Sink(stack, 'Sink', {
    source: { kind: 'msk', clusterArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/bench/abcd1234-abcd-cafe-abab-9876543210ab-4' },
    topics: ['orders'],
  });
  app.synth();
  const synthMs = performance.now() - started;
  const assets = readdirSync(outdir)
    .filter((name) => name.startsWith('asset.'))
    .map((name) => join(outdir, name))
    .filter((dir) => existsSync(join(dir, 'index.mjs')));
  if (assets.length !== 1) throw new Error(`expected one function asset with index.mjs in ${outdir}, found ${assets.length}`);
  const dir = assets[0]!;
  const zipOf = (files: string[]): number => {
    const zipPath = join(outdir, `bench-${files.length}.zip`);
    rmSync(zipPath, { force: true });
    execFileSync('zip', ['-q', '-X', zipPath, ...files], { cwd: dir });
    return statSync(zipPath).size;
  };
  const files = readdirSync(dir);
  return {
    dir,
    indexBytes: statSync(join(dir, 'index.mjs')).size,
    sourceMapBytes: files.includes('index.mjs.map') ? statSync(join(dir, 'index.mjs.map')).size : 0,
    zipBytes: zipOf(files),
    zipIndexOnlyBytes: zipOf(['index.mjs']),
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

/** Runs every variant `runs + 1` times, interleaved (A B C A B C …); the first round warms caches. */
function probeAll(variants: readonly Variant[], runs: number): InitTiming[] {
  const samples = new Map<string, Array<{ importMs: number; processToReadyMs: number; rssBytes: number }>>();
  for (let i = 0; i < runs + 1; i++) {
    for (const variant of variants) {
      const result = spawnSync(process.execPath, variant.args, { cwd: ROOT, env: variant.env, encoding: 'utf8', timeout: 60_000 });
      if (result.status !== 0) throw new Error(`${variant.name}: init probe failed (${result.status}): ${result.stderr.slice(-2000)}`);
      const line = result.stdout.trim().split('\n').at(-1)!;
      if (i > 0) (samples.get(variant.name) ?? samples.set(variant.name, []).get(variant.name)!).push(JSON.parse(line));
    }
  }
  return variants.map(({ name }) => {
    const list = samples.get(name)!;
    const imports = list.map((s) => s.importMs);
    return {
      variant: name,
      runs,
      importMedianMs: round(median(imports)),
      importMinMs: round(Math.min(...imports)),
      importMaxMs: round(Math.max(...imports)),
      processToReadyMedianMs: round(median(list.map((s) => s.processToReadyMs))),
      rssMedianMB: round(median(list.map((s) => s.rssBytes)) / 1024 / 1024),
    };
  });
}

export async function measureColdStart(options: { runs: number; keep?: boolean }, log: (line: string) => void): Promise<ColdStartResult> {
  const outdir = mkdtempSync(join(tmpdir(), 'msk-s3-sink-bench-cdk-'));
  try {
    const bundle = await buildBundle(outdir);
    log(`  bundled by the construct in ${round(bundle.synthMs / 1000)} s: ${bundle.dir}`);
    const index = join(bundle.dir, 'index.mjs');
    const handlerTs = resolve(ROOT, 'functions/msk-sink/handler.ts');
    const tsx = ['--import', 'tsx'];
    const init = probeAll(
      [
        { name: 'bundle (index.mjs)', args: [PROBE, index], env: functionEnv() },
        { name: 'bundle + --enable-source-maps (as deployed)', args: ['--enable-source-maps', PROBE, index], env: functionEnv() },
        { name: 'unbundled handler.ts through tsx', args: [...tsx, PROBE, handlerTs], env: functionEnv() },
        { name: "unbundled handler.ts, Node's own type stripping", args: [PROBE, handlerTs], env: functionEnv() },
      ],
      options.runs,
    );
    return { bundle: { ...bundle, dir: options.keep ? bundle.dir : '(temporary, removed)' }, init };
  } finally {
    if (!options.keep) rmSync(outdir, { recursive: true, force: true });
  }
}
