/**
 * What the tests, local mode and `npm run kafka` need from outside npm (testkit/emulators/
 * prerequisites.ts): with a PATH that lacks `java`, `mvn`, `python3` or pip, each fails in one
 * line that says what to install; where the cache of Kafka's jars and moto lives; and that the unit
 * tests need none of it.
 *
 * A PATH "without X" is a temp directory of symlinks to every command on this PATH except X
 * (the first of each name, as a shell would find it), so everything else stays as it is.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cacheRoot, checkPrerequisites, fillCacheOnce, javaMajor, PrerequisiteError } from '../../testkit/emulators/prerequisites.ts';
import { ROOT, runScript } from '../support/child.ts';
import { prepareTestMachine } from '../support/global-setup.ts';

const LINES = {
  java: 'msk-s3-sink: missing prerequisite: `java` (Java 17+, runs DynamoDB Local and the Kafka broker) is not on the PATH: install a Java 17+ runtime, e.g. `apt-get install openjdk-17-jre-headless`',
  mvn: "msk-s3-sink: missing prerequisite: `mvn` (Apache Maven, fetches Apache Kafka's jars from Maven Central once) is not on the PATH: install Maven, e.g. `apt-get install maven`",
  python3:
    'msk-s3-sink: missing prerequisite: `python3` (Python 3.9+, runs moto, the independent S3 and DynamoDB of the contract suites) is not on the PATH: install Python 3 with pip, e.g. `apt-get install python3 python3-pip`',
  pip: 'msk-s3-sink: missing prerequisite: pip for `python3` (`python3 -m pip` installs moto[server] from PyPI once) is not installed (`python3 -m pip` failed): install pip, e.g. `apt-get install python3-pip`',
} as const;

const scratch = mkdtempSync(join(tmpdir(), 'msk-s3-sink-prereq-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let dirs = 0;
/** A PATH with every command of this one except `hidden`, plus `stubs` (name → shell script). */
function pathWithout(hidden: readonly string[], stubs: Readonly<Record<string, string>> = {}): string {
  const bin = join(scratch, `bin-${dirs++}`);
  mkdirSync(bin);
  const seen = new Set([...hidden, ...Object.keys(stubs)]);
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (seen.has(name)) continue;
      const file = join(dir, name);
      try {
        if (!statSync(file).isFile() || (statSync(file).mode & 0o111) === 0) continue;
      } catch {
        continue;
      }
      seen.add(name);
      symlinkSync(file, join(bin, name));
    }
  }
  for (const [name, script] of Object.entries(stubs)) {
    writeFileSync(join(bin, name), `#!/bin/sh\n${script}\n`);
    chmodSync(join(bin, name), 0o755);
  }
  return bin;
}

/** The one PrerequisiteError line `check` throws. */
function failure(check: () => unknown): string {
  try {
    check();
  } catch (err) {
    expect(err).toBeInstanceOf(PrerequisiteError);
    return (err as Error).message;
  }
  throw new Error('expected a PrerequisiteError');
}

const ALL = { java: true, mvn: true, python3: true, pip: true } as const;

describe('checkPrerequisites', () => {
  it('passes on this machine, and says which Java and Python it found', () => {
    const found = checkPrerequisites(ALL);
    expect(found.java).toBeGreaterThanOrEqual(17);
    expect(found.python?.version).toMatch(/^3\.\d+$/);
    expect(found.python?.executable).toMatch(/python/);
  });

  it.each(['java', 'mvn', 'python3'] as const)('a PATH without %s: one line that says what to install', (tool) => {
    const message = failure(() => checkPrerequisites({ [tool]: true, env: { PATH: pathWithout([tool]) } }));
    expect(message).toBe(LINES[tool]);
    expect(message).not.toContain('\n');
  });

  it('a python3 without pip (as Debian ships it): one line that says what to install', () => {
    // Debian's python3 answers `-m pip` like this when python3-pip is not installed; the probe's
    // `-c` (version and sys.executable) is answered by the stub itself, so pip is asked of it.
    const path = pathWithout([], {
      python3: 'if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then echo "$0: No module named pip" >&2; exit 1; fi\necho 3.11; echo "$0"',
    });
    expect(failure(() => checkPrerequisites({ ...ALL, env: { PATH: path } }))).toBe(LINES.pip);
    // Not needed (moto already installed): no complaint.
    expect(checkPrerequisites({ python3: true, pip: () => false, env: { PATH: path } }).python?.version).toBe('3.11');
  });

  it('several missing: still one line, naming each', () => {
    const message = failure(() => checkPrerequisites({ ...ALL, env: { PATH: pathWithout(['java', 'mvn']) } }));
    expect(message).toBe(
      LINES.java.replace('missing prerequisite:', 'missing prerequisites:') +
        '; ' +
        LINES.mvn.replace('msk-s3-sink: missing prerequisite: ', ''),
    );
  });

  it('a Java older than 17 is refused, named by its version', () => {
    const path = pathWithout(['java'], { java: `echo 'openjdk version "11.0.22" 2024-01-16' >&2` });
    expect(failure(() => checkPrerequisites({ java: true, env: { PATH: path } }))).toBe(
      'msk-s3-sink: missing prerequisite: `java` (Java 17+, runs DynamoDB Local and the Kafka broker) is Java 11, too old: install a Java 17+ runtime, e.g. `apt-get install openjdk-17-jre-headless`',
    );
    expect(javaMajor('java version "1.8.0_392"')).toBe(8);
    expect(javaMajor('openjdk version "21" 2023-09-19')).toBe(21);
    expect(javaMajor('openjdk version "17.0.15" 2025-04-15')).toBe(17);
  });
});

describe('the entry points fail in one line without their prerequisites', () => {
  it('npm run kafka (local/kafka.ts) without java', async () => {
    const run = await runScript('local/kafka.ts', [], { PATH: pathWithout(['java']) });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`${LINES.java}\n`);
    expect(run.stdout).toBe('');
  });

  it('npm run kafka with an empty cache and no mvn', async () => {
    const cache = join(scratch, 'empty-cache-kafka');
    const run = await runScript('local/kafka.ts', [], { PATH: pathWithout(['mvn']), MSK_S3_SINK_CACHE_DIR: cache });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`${LINES.mvn}\n`);
  });

  it('local mode (npm start, local/run.ts) without java', async () => {
    const run = await runScript('local/run.ts', [], { PATH: pathWithout(['java']) });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`${LINES.java}\n`);
  });

  it('local mode’s operations (npm run ops:local, local/ops.ts) without java', async () => {
    const kept = join(scratch, 'kept');
    mkdirSync(join(kept, 's3'), { recursive: true });
    mkdirSync(join(kept, 'dynamodb'));
    const run = await runScript('local/ops.ts', [kept, 'status'], { PATH: pathWithout(['java']) });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`${LINES.java}\n`);
  });

  it('the test setup (vitest) with an empty cache and no mvn: one line, before any test runs', async () => {
    const cache = join(scratch, 'empty-cache-vitest');
    // A run of its own, outside this one (no VITEST_* settings of this worker leak into it).
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('VITEST') && name !== 'NODE_OPTIONS'));
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'test/integration/standalone-config.test.ts'],
        { cwd: ROOT, env: { ...env, PATH: pathWithout(['mvn']), MSK_S3_SINK_CACHE_DIR: cache }, timeout: 110_000 },
        (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr }),
      );
    });
    expect(run.code).toBe(1);
    const lines = run.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines).toEqual([LINES.mvn]);
    expect(run.stdout).not.toMatch(/✓|passed/);
  }, 120_000);
});

describe('the unit tests', () => {
  it('npm run test:unit (the unit project) needs none of them: no setup runs, no java is started', async () => {
    const cache = join(scratch, 'empty-cache-unit');
    const javaCalls = join(scratch, 'java-calls');
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('VITEST') && name !== 'NODE_OPTIONS'));
    // `java` is a stub that notes each call and fails as a missing command would.
    const path = pathWithout(['mvn', 'python3', 'pip', 'pip3'], { java: `echo "$@" >> '${javaCalls}'; exit 127` });
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--project', 'unit', 'test/unit/kafka-cluster-id.test.ts'],
        { cwd: ROOT, env: { ...env, PATH: path, MSK_S3_SINK_CACHE_DIR: cache }, timeout: 110_000 },
        (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr }),
      );
    });
    expect(run.stderr).not.toContain('[test setup]');
    expect(run.stderr).not.toContain('missing prerequisite');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/1 passed/);
    expect(existsSync(javaCalls)).toBe(false);
    expect(existsSync(cache)).toBe(false);
  }, 120_000);
});

describe('the test setup with the cache filled', () => {
  it('needs neither mvn nor pip, and says what it found in one line per step', async () => {
    // The cache is complete: this run's own setup filled it (or found it filled).
    const lines: string[] = [];
    const stderr = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      // No mvn, and a python3 without pip (as in the pip case above, answering for this Python).
      const version = checkPrerequisites({ python3: true }).python!.version;
      const python3 = `if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then echo "$0: No module named pip" >&2; exit 1; fi\necho ${version}; echo "$0"`;
      await prepareTestMachine((line) => lines.push(line), { PATH: pathWithout(['mvn'], { python3 }) });
    } finally {
      process.stderr.write = stderr;
    }
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\[test setup\] prerequisites: java \d+, python3 3\.\d+; cache .*msk-s3-sink \(\d+\.\d s\)\n$/);
    expect(lines[1]).toMatch(/^\[test setup\] kafka 4\.1\.1: jars in .*kafka-4\.1\.1 \(\d+\.\d s\)\n$/);
    expect(lines[2]).toMatch(/^\[test setup\] moto: installed in .*moto-5\.2\.5-py3\.\d+ \(\d+\.\d s\)\n$/);
  });
});

describe('the cache directory', () => {
  it('MSK_S3_SINK_CACHE_DIR, else XDG_CACHE_HOME/msk-s3-sink, else ~/.cache/msk-s3-sink', () => {
    expect(cacheRoot({ MSK_S3_SINK_CACHE_DIR: '/srv/cache', XDG_CACHE_HOME: '/x' })).toBe('/srv/cache');
    expect(cacheRoot({ XDG_CACHE_HOME: '/x' })).toBe('/x/msk-s3-sink');
    // XDG: a relative XDG_CACHE_HOME is invalid and ignored; an empty override is unset.
    expect(cacheRoot({ XDG_CACHE_HOME: 'relative', MSK_S3_SINK_CACHE_DIR: '' })).toBe(join(homedir(), '.cache', 'msk-s3-sink'));
    expect(cacheRoot({})).toBe(join(homedir(), '.cache', 'msk-s3-sink'));
    // Never inside the checkout, where `npm ci` (node_modules) or git would remove it.
    expect(cacheRoot({}).startsWith(ROOT)).toBe(false);
  });

  it('a failed fill leaves nothing behind, and the next one fills it; a filled cache is used as it is', async () => {
    const dir = join(scratch, 'fill', 'thing-1');
    const lines: string[] = [];
    const log = (line: string): void => void lines.push(line);
    const failing = fillCacheOnce({ dir, label: 'thing', what: 'thing 1', log, fill: () => Promise.reject(new Error('no network')) });
    await expect(failing).rejects.toThrow('no network');
    expect(readdirSync(join(scratch, 'fill'))).toEqual([]);
    const filled = await fillCacheOnce({
      dir,
      label: 'thing',
      what: 'thing 1',
      log,
      fill: async (work) => {
        writeFileSync(join(work, 'a.bin'), Buffer.alloc(2_500_000));
        return '1 file';
      },
    });
    expect(filled).toBe(true);
    expect(readdirSync(join(scratch, 'fill'))).toEqual(['thing-1']);
    expect(lines.at(-1)).toMatch(/^thing: cached 1 file \(2\.5 MB\) in \d+\.\d s$/);
    let called = false;
    const again = await fillCacheOnce({
      dir,
      label: 'thing',
      what: 'thing 1',
      log,
      fill: async () => {
        called = true;
        return '';
      },
    });
    expect(again).toBe(false);
    expect(called).toBe(false);
  });
});
