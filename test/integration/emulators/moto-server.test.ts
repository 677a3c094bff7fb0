/**
 * The moto launcher (testkit/emulators/moto-server.ts), whose server is the independent S3 and
 * DynamoDB of the contract suites (object-store-contract.test.ts, ledger-contract.test.ts).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startMotoServer } from '../../../testkit/emulators/moto-server.ts';
import { PrerequisiteError } from '../../../testkit/emulators/prerequisites.ts';

describe('startMotoServer', () => {
  it('without python3 fails in one line saying what to install', async () => {
    const cacheDir = join(mkdtempSync(join(tmpdir(), 'moto-cache-')), 'moto');
    try {
      const error = await startMotoServer({ python: 'no-such-python3-here', cacheDir }).catch((e: Error) => e);
      expect(error).toBeInstanceOf(PrerequisiteError);
      expect((error as Error).message).toBe(
        'msk-s3-sink: missing prerequisite: `python3` (Python 3.9+, runs moto, the independent S3 and DynamoDB of the contract suites) (here `no-such-python3-here`) is not on the PATH: install Python 3 with pip, e.g. `apt-get install python3 python3-pip`',
      );
      expect(existsSync(cacheDir)).toBe(false);
    } finally {
      rmSync(dirname(cacheDir), { recursive: true, force: true });
    }
  });
});
