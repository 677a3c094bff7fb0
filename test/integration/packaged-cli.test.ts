/**
 * The command line as a user installs it: `npm pack` (which runs `prepare`, building
 * dist/msk-s3-sink.mjs), then `npm install --omit=dev <tarball>` in an empty directory, so that
 * none of the devDependencies (tsx, esbuild, ...) is there, then `msk-s3-sink` run on Node 24
 * (the project's own, node_modules/node) against DynamoDB Local. npm installs from its cache
 * when it can (`--prefer-offline`).
 *
 * Then the same in a checkout without devDependencies (what `npm ci --omit=dev` leaves): the
 * source (lib/, bin/, package.json) over that install's production-only node_modules, where the
 * bin runs the TypeScript source with Node 24's own type stripping.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbOffsetLedger } from '../../lib/aws/dynamodb-ledger.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../testkit/emulators/clients.ts';
import { ROOT } from '../support/child.ts';
import { createTestLedgerTable, type LedgerTableForTest } from '../support/emulators.ts';

/** The project's Node 24 (the `node` devDependency): package.json's engine, whatever Node runs npm. */
const NODE24 = join(ROOT, 'node_modules', 'node', 'bin', 'node');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * npm settings a child npm keeps from an `npm test` run: where its cache and registry are. The
 * others npm exports to scripts (npm_config_local_prefix: this checkout, npm_package_*, ...)
 * would point the child at this repository instead of its own directory.
 */
const NPM_SETTINGS_KEPT = /^npm_config_(cache|registry|userconfig|globalconfig|proxy|https_proxy|noproxy|strict_ssl|cafile)$/i;

/** This process's environment without npm's script settings (but NPM_SETTINGS_KEPT) and any AWS or sink settings. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const kept = Object.entries(process.env).filter(
    ([name]) =>
      (!/^npm_/i.test(name) || NPM_SETTINGS_KEPT.test(name)) &&
      name !== 'INIT_CWD' &&
      !name.startsWith('AWS_') &&
      !name.startsWith('SINK_') &&
      name !== 'LEDGER_TABLE',
  );
  return { ...(Object.fromEntries(kept) as Record<string, string>), ...extra };
}

function run(file: string, args: readonly string[], cwd: string, env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

describe('the packaged command line, installed without devDependencies', () => {
  let work: string;
  let app: string;
  let bin: string;
  let ledger: LedgerTableForTest;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'msk-s3-sink-pack-'));
    const pack = await run('npm', ['pack', '--pack-destination', work, '--no-fund', '--no-audit'], ROOT, cleanEnv());
    expect(pack.code, pack.stderr).toBe(0);
    const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'));
    expect(tarball, 'the packed tarball').toBeDefined();
    app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'ops-host', version: '1.0.0', private: true }));
    const install = await run(
      'npm',
      ['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', join(work, tarball!)],
      app,
      cleanEnv(),
    );
    expect(install.code, install.stderr).toBe(0);
    bin = join(app, 'node_modules', '.bin', 'msk-s3-sink');
    ledger = await createTestLedgerTable('packaged');
  }, 120_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('has none of the devDependencies to lean on', () => {
    for (const name of ['tsx', 'esbuild', 'typescript', 'vitest', 'aws-cdk-lib']) {
      expect(existsSync(join(app, 'node_modules', name)), name).toBe(false);
    }
    expect(existsSync(join(app, 'node_modules', 'msk-s3-sink', 'dist', 'msk-s3-sink.mjs'))).toBe(true);
  });

  it('prints its usage (--help)', async () => {
    const { code, stdout, stderr } = await run(NODE24, [bin, '--help'], app, cleanEnv());
    expect(stderr).toBe('');
    expect(stdout).toContain('Usage: msk-s3-sink <command> [options]');
    expect(stdout).toContain('standalone <file>');
    expect(code).toBe(0);
  });

  it('runs status against DynamoDB Local', async () => {
    await seedLedger();
    const { code, stdout, stderr } = await run(NODE24, [bin, 'status', '--json'], app, statusEnv());
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject([{ topic: 'orders', partition: 3, generation: 0, committedOffset: 41 }]);
  });

  it('runs from a checkout without devDependencies too (the source, with Node 24 type stripping)', async () => {
    const checkout = join(work, 'checkout');
    for (const entry of ['lib', 'bin', 'package.json']) cpSync(join(ROOT, entry), join(checkout, entry), { recursive: true });
    symlinkSync(join(app, 'node_modules'), join(checkout, 'node_modules'), 'dir');
    // `standalone --help` loads the command line's whole static graph and its one dynamic import (lib/standalone/cli.ts).
    const help = await run(NODE24, [join(checkout, 'bin', 'msk-s3-sink.mjs'), 'standalone', '--help'], checkout, cleanEnv());
    expect(help.stderr).toBe('');
    expect(help.stdout).toContain('Usage: msk-s3-sink standalone <worker.properties | worker.json>');
    await seedLedger();
    const { code, stdout, stderr } = await run(
      NODE24,
      [join(checkout, 'bin', 'msk-s3-sink.mjs'), 'status', '--json'],
      checkout,
      statusEnv(),
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject([{ topic: 'orders', partition: 3, committedOffset: 41 }]);
  });

  /** One committed partition in the test's ledger table (idempotent). */
  async function seedLedger(): Promise<void> {
    const ledgerPort = new DynamoDbOffsetLedger({ client: ledger.client, tableName: ledger.tableName });
    if (await ledgerPort.read('orders', 3)) return;
    await ledgerPort.advance(undefined, {
      topic: 'orders',
      partition: 3,
      generation: 0,
      committedOffset: 41,
      lastObjectKey: 'topics/orders/partition=3/orders+3+00000000000000000000.jsonl.gz',
      lastRecordCount: 42,
      updatedAt: new Date(Date.UTC(2026, 10, 26, 12)).toISOString(),
    });
  }

  /** The command line's environment for the test's table in DynamoDB Local. */
  function statusEnv(): Record<string, string> {
    return cleanEnv({
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: ledger.endpoint,
      LEDGER_TABLE: ledger.tableName,
    });
  }
});
