import { hostname, userInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { defaultOperator, localUser, runsLocally } from '../../lib/aws/caller.ts';

/** `--by`'s default: the AWS caller on AWS, user@host locally (emulators, or a ledger file). */
describe('defaultOperator', () => {
  const arn = 'arn:aws:sts::123456789012:assumed-role/operators/alice';
  const lookups: string[] = [];
  const awsCaller = async () => {
    lookups.push('sts');
    return arn;
  };

  it('is the STS caller on AWS', async () => {
    lookups.length = 0;
    expect(await defaultOperator({ env: { AWS_REGION: 'eu-west-1' }, usesLedgerFile: false, awsCaller })).toEqual({ by: arn });
    expect(lookups).toEqual(['sts']);
  });

  it('is user@host against emulators or a ledger file, without asking STS', async () => {
    lookups.length = 0;
    for (const [env, usesLedgerFile] of [
      [{ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4566' }, false],
      [{ AWS_ENDPOINT_URL: 'http://127.0.0.1:4566' }, false],
      [{}, true],
    ] as const) {
      expect(await defaultOperator({ env, usesLedgerFile, awsCaller, localUser: () => 'bob@laptop' })).toEqual({ by: 'bob@laptop' });
    }
    expect(lookups).toEqual([]);
    // An empty variable is not set.
    expect(runsLocally({ AWS_ENDPOINT_URL_S3: '' }, false)).toBe(false);
    expect(localUser()).toBe(`${userInfo().username}@${hostname()}`);
  });

  it('falls back to user@host, with a note saying why, when STS cannot answer', async () => {
    const failing = async () => {
      const error = new Error('Could not load credentials from any providers');
      error.name = 'CredentialsProviderError';
      throw error;
    };
    const result = await defaultOperator({ env: {}, usesLedgerFile: false, awsCaller: failing, localUser: () => 'bob@laptop' });
    expect(result.by).toBe('bob@laptop');
    expect(result.note).toContain('CredentialsProviderError: Could not load credentials');
  });
});
