/**
 * What the tests, local mode and `npm run kafka` need from outside npm, checked up front, and the
 * cache where the project keeps what it fetches from Maven Central and PyPI.
 *
 * The machine provides `java` (Java 17+: DynamoDB Local, the Kafka broker), `mvn` (fetches Apache
 * Kafka's jars from Maven Central, once) and `python3` with `pip` (installs moto's server from
 * PyPI, once, then runs it). A missing one fails in one line that says what to install.
 *
 * The cache lives outside the tracked files and outside `node_modules` (which `npm ci` wipes):
 * `$MSK_S3_SINK_CACHE_DIR` when set, else `${XDG_CACHE_HOME:-~/.cache}/msk-s3-sink/`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';

/** The environment variable that overrides the cache directory (see {@link cacheRoot}). */
export const CACHE_DIR_ENV = 'MSK_S3_SINK_CACHE_DIR';

/**
 * The project's cache directory: `$MSK_S3_SINK_CACHE_DIR`, else `$XDG_CACHE_HOME/msk-s3-sink`,
 * else `~/.cache/msk-s3-sink` (XDG's rule: a relative `XDG_CACHE_HOME` is ignored).
 */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env[CACHE_DIR_ENV];
  if (explicit !== undefined && explicit !== '') return resolve(explicit);
  const xdg = env['XDG_CACHE_HOME'];
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : join(homedir(), '.cache');
  return join(base, 'msk-s3-sink');
}

/** The tools this module checks. */
export const TOOLS = ['java', 'mvn', 'python3', 'pip'] as const;
export type Tool = (typeof TOOLS)[number];

/** What each tool is for and how to get it: the one line a missing tool fails with. */
const WHAT = {
  java: {
    name: '`java` (Java 17+, runs DynamoDB Local and the Kafka broker)',
    install: 'install a Java 17+ runtime, e.g. `apt-get install openjdk-17-jre-headless`',
  },
  mvn: {
    name: "`mvn` (Apache Maven, fetches Apache Kafka's jars from Maven Central once)",
    install: 'install Maven, e.g. `apt-get install maven`',
  },
  python3: {
    name: '`python3` (Python 3.9+, runs moto, the independent S3 and DynamoDB of the contract suites)',
    install: 'install Python 3 with pip, e.g. `apt-get install python3 python3-pip`',
  },
  pip: {
    name: 'pip for `python3` (`python3 -m pip` installs moto[server] from PyPI once)',
    install: 'install pip, e.g. `apt-get install python3-pip`',
  },
} as const satisfies Record<Tool, { name: string; install: string }>;

/** One or more prerequisites are missing; the message is one line saying what to install. */
export class PrerequisiteError extends Error {
  /** The tools found missing (or too old), in check order. */
  readonly missing: readonly Tool[];
  constructor(problems: ReadonlyArray<{ tool: Tool; problem: string }>) {
    const text = problems.map((p) => p.problem).join('; ');
    super(`msk-s3-sink: missing prerequisite${problems.length > 1 ? 's' : ''}: ${text}`);
    this.name = 'PrerequisiteError';
    this.missing = problems.map((p) => p.tool);
  }
}

/** What the checks found. */
export interface Prerequisites {
  /** Java's major version, when java was checked. */
  readonly java?: number;
  /** The Python that runs moto, when python3 was checked. */
  readonly python?: PythonInfo;
}

export interface PythonInfo {
  /** Its real executable (`sys.executable`, e.g. behind a pyenv shim). */
  readonly executable: string;
  /** `major.minor`, e.g. `3.11`. */
  readonly version: string;
}

export interface CheckOptions {
  /** The tools to check; `pip` may be a predicate on the Python found (false: not needed). */
  readonly java?: boolean;
  readonly mvn?: boolean;
  readonly python3?: boolean;
  readonly pip?: boolean | ((python: PythonInfo) => boolean);
  /** The environment whose PATH is searched; default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** The Python command; default `python3`. */
  readonly pythonCommand?: string;
}

/**
 * Checks the named tools, all of them, and throws one {@link PrerequisiteError} naming every one
 * missing (or too old). Each probe runs the tool (`java -version`, `mvn -v`, `python3 -c ...`,
 * `python3 -m pip --version`), so a broken install counts as missing too.
 */
export function checkPrerequisites(options: CheckOptions): Prerequisites {
  const env = options.env ?? process.env;
  const problems: Array<{ tool: Tool; problem: string }> = [];
  const missing = (tool: Tool, why = 'is not on the PATH'): void => {
    problems.push({ tool, problem: `${WHAT[tool].name} ${why}: ${WHAT[tool].install}` });
  };
  let java: number | undefined;
  let python: PythonInfo | undefined;

  if (options.java === true) {
    const probe = spawnSync('java', ['-version'], { env, encoding: 'utf8' });
    if (probe.error !== undefined || probe.status !== 0) missing('java');
    else {
      java = javaMajor(`${probe.stderr}${probe.stdout}`);
      if (java !== undefined && java < 17) missing('java', `is Java ${java}, too old`);
    }
  }
  if (options.mvn === true) {
    const probe = spawnSync('mvn', ['-v'], { env, encoding: 'utf8' });
    if (probe.error !== undefined || probe.status !== 0) missing('mvn');
  }
  if (options.python3 === true || options.pip !== undefined) {
    const command = options.pythonCommand ?? 'python3';
    const probe = spawnSync(command, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2]); print(sys.executable)'], {
      env,
      encoding: 'utf8',
    });
    const [version = '', executable = ''] = (probe.stdout ?? '').trim().split('\n');
    if (probe.error !== undefined || probe.status !== 0 || !/^\d+\.\d+$/.test(version)) {
      missing('python3', command === 'python3' ? undefined : `(here \`${command}\`) is not on the PATH`);
    } else {
      const [major = 0, minor = 0] = version.split('.').map(Number);
      if (major < 3 || (major === 3 && minor < 9)) missing('python3', `is Python ${version}, too old`);
      python = { executable: executable || command, version };
      const needPip = typeof options.pip === 'function' ? options.pip(python) : options.pip === true;
      if (needPip) {
        const pip = spawnSync(python.executable, ['-m', 'pip', '--version'], { env, encoding: 'utf8' });
        if (pip.error !== undefined || pip.status !== 0) missing('pip', `is not installed (\`${command} -m pip\` failed)`);
      }
    }
  }
  if (problems.length > 0) throw new PrerequisiteError(problems);
  return { ...(java === undefined ? {} : { java }), ...(python === undefined ? {} : { python }) };
}

/** The major version in `java -version`'s banner (`"17.0.15"` → 17, `"1.8.0_392"` → 8). */
export function javaMajor(banner: string): number | undefined {
  const m = /version "(\d+)(?:\.(\d+))?/.exec(banner);
  if (m === null) return undefined;
  const first = Number(m[1]);
  return first === 1 && m[2] !== undefined ? Number(m[2]) : first;
}

// ---------------------------------------------------------------------------------------------
// Filling a cache directory once

/** A fill takes a minute or two on a slow line; a lock this old was left by a killed process. */
const LOCK_STALE_MS = 15 * 60_000;

/** The marker a complete cache directory holds. */
const COMPLETE = '.complete';

/** True when `dir` was filled completely by {@link fillCacheOnce}. */
export function cacheComplete(dir: string): boolean {
  return existsSync(join(dir, COMPLETE));
}

export interface FillOptions {
  /** The cache directory to fill (it appears only once complete). */
  readonly dir: string;
  /** Prefix of the progress lines, e.g. `kafka`. */
  readonly label: string;
  /** What is fetched, for the progress lines, e.g. `org.apache.kafka:kafka_2.13:4.1.1 from Maven Central`. */
  readonly what: string;
  readonly log: (line: string) => void;
  /** Fills `work` (a fresh directory that becomes `dir`); returns what it holds, e.g. `97 jars`. */
  readonly fill: (work: string) => Promise<string>;
}

/**
 * Fills a cache directory unless it is complete already, and returns whether this call filled it.
 * Safe to call concurrently from several processes (test runs in other checkouts share the
 * cache): a lock directory lets one fill while the others wait, and the directory appears only
 * once complete (a rename), so an interrupted fill never leaves half a cache behind.
 */
export async function fillCacheOnce(options: FillOptions): Promise<boolean> {
  const { dir, label, log } = options;
  if (cacheComplete(dir)) return false;
  await mkdir(dirname(dir), { recursive: true });
  const lock = `${dir}.lock`;
  let waiting = false;
  for (;;) {
    if (cacheComplete(dir)) return false;
    try {
      await mkdir(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const since = await stat(lock).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (since > LOCK_STALE_MS) {
      log(`${label}: taking over ${lock}, left ${Math.round(since / 1000)} s ago by a process that did not finish`);
      await rm(lock, { recursive: true, force: true });
      continue;
    }
    if (!waiting) log(`${label}: another process is fetching ${options.what}; waiting for it (${lock})`);
    waiting = true;
    await new Promise((r) => setTimeout(r, 500));
  }
  let work: string | undefined;
  try {
    if (cacheComplete(dir)) return false;
    // A directory left by an interrupted fill of ours (not a complete one) is replaced.
    await rm(dir, { recursive: true, force: true });
    work = await mkdtemp(`${dir}.tmp-`);
    log(`${label}: fetching ${options.what} (once) into ${dir}`);
    const started = performance.now();
    const holds = await options.fill(work);
    await writeFile(join(work, COMPLETE), `${holds}\n`);
    await rename(work, dir);
    work = undefined;
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    log(`${label}: cached ${holds} (${formatBytes(directorySize(dir))}) in ${seconds} s`);
    return true;
  } finally {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
    await rm(lock, { recursive: true, force: true });
  }
}

/** Total size of the files under `dir`, in bytes. */
export function directorySize(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

/** `43.2 MB`. */
export function formatBytes(bytes: number): string {
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}
