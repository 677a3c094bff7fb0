/**
 * Starts moto's server (`moto[server]` from PyPI: S3 and DynamoDB written by others) on a free
 * loopback port, so that tests can check the project's own S3 emulator and DynamoDB Local against
 * an implementation nobody here wrote.
 *
 * On first use it creates a private virtualenv in `node_modules/.cache/msk-s3-sink/moto-<version>/`
 * (`python3 -m venv`, then that venv's pip installs `moto[server]==<version>` from PyPI), saying so
 * on stderr; later runs reuse it. Needs `python3` (with its `venv` module) on the PATH.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startWatchdog, stopChild } from './child-process.ts';

/**
 * The moto release the tests pin (If-None-Match 412 since 5.0.15, If-Match since 5.1.5). A new
 * version gets its own cache directory, so changing it reinstalls.
 */
export const MOTO_VERSION = '5.2.5';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where the virtualenv for `version` lives (outside the tracked files). */
export function motoCacheDir(version: string = MOTO_VERSION): string {
  return join(REPO_ROOT, 'node_modules', '.cache', 'msk-s3-sink', `moto-${version}`);
}

export interface MotoServer {
  /** e.g. `http://127.0.0.1:41234`; serves S3 (path-style) and DynamoDB on the same port. */
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number | undefined;
  /** Kills the process and waits for it to exit. */
  stop(): Promise<void>;
}

export interface MotoServerOptions {
  /** How long to wait for it to answer; default 60 s. */
  readonly startTimeoutMs?: number;
  /** The Python that builds the venv; default `python3` from the PATH. */
  readonly python?: string;
  /** Where the venv lives; default `motoCacheDir()`. */
  readonly cacheDir?: string;
}

/** Thrown when moto cannot be installed or started; the message says what to do or carries the output tail. */
export class MotoServerError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MotoServerError';
  }
}

/** Installs moto once (see the module comment), then starts its server and waits until it answers. */
export async function startMotoServer(options: MotoServerOptions = {}): Promise<MotoServer> {
  const python = await ensureMotoVenv(options.cacheDir ?? motoCacheDir(), options.python ?? 'python3');
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    try {
      return await launch(python, port, timeoutMs);
    } catch (err) {
      lastError = err;
      // Another process took the port between our probe and moto's bind: try another one.
      if (err instanceof PortTakenError) continue;
      throw err;
    }
  }
  throw new MotoServerError('moto server: no free port after 5 attempts', { cause: lastError });
}

/**
 * The venv's python, installing moto first when the cache has none. The venv is built in a
 * directory of its own and renamed into place when complete, so that an interrupted install or
 * two test processes installing at once never leave a half-built cache behind. (The venv is run
 * through its `python`, which survives the rename; pip's generated scripts would not.)
 */
async function ensureMotoVenv(dir: string, basePython: string): Promise<string> {
  const python = join(dir, 'bin', 'python');
  if (existsSync(python)) return python;

  const probe = spawnSync(basePython, ['-c', 'import venv, ensurepip'], { stdio: 'ignore' });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new MotoServerError(
      `moto server: needs ${basePython} with its venv module on the PATH (Debian/Ubuntu: apt-get install python3 python3-venv)`,
      { cause: probe.error },
    );
  }
  const building = `${dir}.building-${process.pid}`;
  await rm(building, { recursive: true, force: true });
  await mkdir(dirname(dir), { recursive: true });
  process.stderr.write(`moto server: installing moto[server]==${MOTO_VERSION} from PyPI into ${dir} (once)\n`);
  const started = Date.now();
  try {
    await run(basePython, ['-m', 'venv', building]);
    await run(join(building, 'bin', 'python'), [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      '--no-input',
      `moto[server]==${MOTO_VERSION}`,
    ]);
  } catch (err) {
    await rm(building, { recursive: true, force: true });
    throw err;
  }
  try {
    await rename(building, dir);
  } catch (err) {
    // Another process finished first: use its venv.
    await rm(building, { recursive: true, force: true });
    if (!existsSync(python)) throw new MotoServerError(`moto server: could not move the venv into ${dir}`, { cause: err });
  }
  process.stderr.write(`moto server: installed in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return python;
}

async function run(command: string, args: string[]): Promise<void> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) {
    throw new MotoServerError(`moto server: \`${command} ${args.join(' ')}\` failed (exit ${code}).\n--- output tail ---\n${output.slice(-2000)}`);
  }
}

class PortTakenError extends Error {}

async function launch(python: string, port: number, timeoutMs: number): Promise<MotoServer> {
  // `moto_server` is `moto.server:main`; run through the venv's python (see ensureMotoVenv).
  const child = spawn(python, ['-c', 'import sys; from moto.server import main; sys.exit(main())', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // No AWS settings from the environment reach moto: it must never look for real ones.
    env: { PATH: process.env['PATH'] ?? '', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_DEFAULT_REGION: 'us-east-1' },
  });
  if (child.pid !== undefined) startWatchdog(child.pid, { graceMs: 5_000 });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  // Keep draining its output (a request log per call) so that a full pipe never blocks it.
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const exit = new Promise<void>((resolveExit) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolveExit();
    });
    child.once('error', (err) => {
      spawnError = err;
      exited ??= { code: null, signal: null };
      resolveExit();
    });
  });

  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited !== undefined) {
      if (/Address already in use/i.test(output)) throw new PortTakenError(output);
      const why = spawnError !== undefined ? `could not run ${python} (${spawnError.message})` : `the process exited (code ${exited.code}, signal ${exited.signal})`;
      throw new MotoServerError(`moto server did not start: ${why}.\n--- output tail ---\n${output.slice(-2000)}`, { cause: spawnError });
    }
    try {
      // moto's own health endpoint (served by the dashboard blueprint) answers once Flask is up.
      const response = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.ok) break;
    } catch (err) {
      if (Date.now() > deadline) {
        await stopChild(child, exit, 5_000);
        throw new MotoServerError(`moto server did not answer on ${endpoint} within ${timeoutMs} ms.\n--- output tail ---\n${output.slice(-2000)}`, {
          cause: err,
        });
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    port,
    pid: child.pid,
    stop() {
      stopped ??= stopChild(child, exit, 5_000);
      return stopped;
    },
  };
}
