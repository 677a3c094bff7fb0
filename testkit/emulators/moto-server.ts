/**
 * Starts moto's server (`moto[server]` from PyPI: S3 and DynamoDB written by others) on a free
 * loopback port, so that tests can check the project's own S3 emulator and DynamoDB Local against
 * an implementation nobody here wrote.
 *
 * On first use it installs moto with plain pip (`python3 -m pip install --target <dir>`; no venv,
 * which Debian's python3 may lack) into the project's cache (`cacheRoot()` in prerequisites.ts:
 * `${XDG_CACHE_HOME:-~/.cache}/msk-s3-sink/moto-<version>-py<python>/`, or under
 * `$MSK_S3_SINK_CACHE_DIR`), saying so; later runs reuse it, run with `PYTHONPATH` pointing
 * there. Needs `python3` on the PATH, and pip only for that first install.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { launchOnFreePorts, PortTakenError, startWatchdog, stopChild, watchChild } from './child-process.ts';
import { cacheComplete, cacheRoot, checkPrerequisites, fillCacheOnce, type PythonInfo } from './prerequisites.ts';

/**
 * The moto release the tests pin (If-None-Match 412 since 5.0.15, If-Match since 5.1.5). A new
 * version gets its own cache directory, so changing it reinstalls.
 */
export const MOTO_VERSION = '5.2.5';

/**
 * Where moto `version` is installed for Python `pythonVersion` (`3.11`): compiled dependencies
 * (cryptography, PyYAML, ...) are built for one Python, so each has its own directory.
 */
export function motoCacheDir(pythonVersion: string, version: string = MOTO_VERSION): string {
  return join(cacheRoot(), `moto-${version}-py${pythonVersion}`);
}

export interface MotoServer {
  /** e.g. `http://127.0.0.1:41234`; serves S3 (path-style) and DynamoDB on the same port. */
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number | undefined;
  /** Kills the process and waits for it to exit. */
  stop(): Promise<void>;
}

export interface MotoInstallOptions {
  /** The Python that installs and runs moto; default `python3` from the PATH. */
  readonly python?: string;
  /** Where moto is installed; default `motoCacheDir(<that Python's version>)`. */
  readonly cacheDir?: string;
  /** Progress lines (one per step); default: stderr. */
  readonly log?: (line: string) => void;
}

export interface MotoServerOptions extends MotoInstallOptions {
  /** How long to wait for it to answer; default 60 s. */
  readonly startTimeoutMs?: number;
}

/** An installed moto: the Python that runs it, and the directory to put on its `PYTHONPATH`. */
export interface MotoInstall {
  readonly python: string;
  readonly dir: string;
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
  const install = await ensureMoto(options);
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  return launchOnFreePorts(
    1,
    ([port = 0]) => launch(install, port, timeoutMs),
    (cause) => new MotoServerError('moto server: no free port after 5 attempts', { cause }),
  );
}

/**
 * Installs moto into the cache unless it is there already (a missing `python3`, or pip when an
 * install is needed, is a `PrerequisiteError`). Safe to call concurrently from several processes.
 */
export async function ensureMoto(options: MotoInstallOptions = {}): Promise<MotoInstall> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let python: PythonInfo | undefined;
  let dir = options.cacheDir;
  checkPrerequisites({
    python3: true,
    pythonCommand: options.python ?? 'python3',
    pip: (found) => {
      python = found;
      dir ??= motoCacheDir(found.version);
      return !cacheComplete(dir);
    },
  });
  // checkPrerequisites returned: the predicate ran, so both are set.
  const install = { python: python!.executable, dir: dir! };
  await fillCacheOnce({
    dir: install.dir,
    label: 'moto',
    what: `moto[server]==${MOTO_VERSION} and its dependencies from PyPI with pip (Python ${python!.version})`,
    log,
    fill: async (work) => {
      await run(install.python, [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '--no-input',
        '--no-warn-script-location',
        '--target',
        work,
        `moto[server]==${MOTO_VERSION}`,
      ]);
      return `moto[server]==${MOTO_VERSION}`;
    },
  });
  return install;
}

async function run(command: string, args: string[]): Promise<void> {
  // A machine-wide PIP_REQUIRE_VIRTUALENV would refuse this install, which needs no venv.
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PIP_REQUIRE_VIRTUALENV: '0' } });
  const watched = watchChild(child);
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) {
    throw new MotoServerError(
      `moto server: \`${command} ${args.join(' ')}\` failed (exit ${code}).\n--- output tail ---\n${watched.output().slice(-2000)}`,
    );
  }
}

async function launch({ python, dir }: MotoInstall, port: number, timeoutMs: number): Promise<MotoServer> {
  // `moto_server` is `moto.server:main`, imported from the --target install through PYTHONPATH.
  const child = spawn(python, ['-c', 'import sys; from moto.server import main; sys.exit(main())', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // No AWS settings from the environment reach moto: it must never look for real ones. No user
    // site-packages either: only the pinned install (PYTHONPATH comes before the system's).
    env: {
      PATH: process.env['PATH'] ?? '',
      PYTHONPATH: dir,
      PYTHONNOUSERSITE: '1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_DEFAULT_REGION: 'us-east-1',
    },
  });
  if (child.pid !== undefined) startWatchdog(child.pid, { graceMs: 5_000 });
  const watched = watchChild(child);

  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ended = watched.ended();
    if (ended !== undefined) {
      const output = watched.output();
      if (/Address already in use/i.test(output)) throw new PortTakenError(output);
      const why =
        ended.spawnError !== undefined
          ? `could not run ${python} (${ended.spawnError.message})`
          : `the process exited (code ${ended.code}, signal ${ended.signal})`;
      throw new MotoServerError(`moto server did not start: ${why}.\n--- output tail ---\n${output.slice(-2000)}`, {
        cause: ended.spawnError,
      });
    }
    try {
      // moto's own health endpoint (served by the dashboard blueprint) answers once Flask is up.
      const response = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.ok) break;
    } catch (err) {
      if (Date.now() > deadline) {
        await stopChild(child, watched.exit, 5_000);
        throw new MotoServerError(
          `moto server did not answer on ${endpoint} within ${timeoutMs} ms.\n--- output tail ---\n${watched.output().slice(-2000)}`,
          {
            cause: err,
          },
        );
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
      stopped ??= stopChild(child, watched.exit, 5_000);
      return stopped;
    },
  };
}
