/**
 * Who runs an operator's command: the default of `--by`, kept in the audit records of resets and
 * prunes. On AWS it is the caller's identity as STS sees it (the ARN of the user or assumed role),
 * which the operator cannot mistype; locally (an `AWS_ENDPOINT_URL*` set, or a standalone
 * worker's ledger file) it is `user@host`.
 */
import { hostname, userInfo } from 'node:os';

/** Looks up the AWS caller's identity (STS GetCallerIdentity's ARN). Injected by tests. */
export type AwsCallerLookup = () => Promise<string>;

/** `user@host` of this process. */
export function localUser(): string {
  return `${userInfo().username}@${hostname()}`;
}

/** True when the command runs against local emulators or a ledger file, not AWS. */
export function runsLocally(env: Readonly<Record<string, string | undefined>>, usesLedgerFile: boolean): boolean {
  return usesLedgerFile || Object.entries(env).some(([name, value]) => name.startsWith('AWS_ENDPOINT_URL') && Boolean(value));
}

/**
 * The default of `--by`. `note` says why the AWS identity could not be used, for stderr: the
 * record then names `user@host`, and the command goes on (its own AWS calls will say more if the
 * credentials are the problem).
 */
export async function defaultOperator(options: {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly usesLedgerFile: boolean;
  readonly awsCaller: AwsCallerLookup;
  readonly localUser?: () => string;
}): Promise<{ readonly by: string; readonly note?: string }> {
  const local = options.localUser ?? localUser;
  if (runsLocally(options.env, options.usesLedgerFile)) return { by: local() };
  try {
    return { by: await options.awsCaller() };
  } catch (error) {
    const by = local();
    return {
      by,
      note: `could not read the AWS caller's identity (${(error as Error).name}: ${(error as Error).message}); recording --by ${by}`,
    };
  }
}

/**
 * The STS lookup. `@aws-sdk/client-sts` is imported when first needed, so that the command line
 * works (and says why it fell back to `user@host`) where the package is absent.
 */
export function stsCallerLookup(options: { readonly region: string | undefined }): AwsCallerLookup {
  return async () => {
    const { STSClient, GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
    const client = new STSClient({ region: options.region });
    try {
      const { Arn } = await client.send(new GetCallerIdentityCommand({}));
      if (!Arn) throw new Error('GetCallerIdentity returned no ARN');
      return Arn;
    } finally {
      client.destroy();
    }
  };
}
