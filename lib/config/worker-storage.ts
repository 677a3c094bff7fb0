/**
 * Where the standalone worker's objects and offsets go: the ledger (a file or the DynamoDB table)
 * and the sink's settings and storage bindings, validated by lib/config/config.ts and reworded by
 * key. The operations commands read only this part of a worker file.
 */
import { resolve } from 'node:path';
import type { z } from 'zod';
import { loadSettings, loadStorageConfig } from './config.ts';
import { SETTING_KEYS, sinkKeyProblems, toSinkEnvironment } from './connect-settings.ts';
import { ConfigurationError } from '../core/errors.ts';
import {
  type LedgerChoice,
  STANDALONE_KEYS,
  StandaloneConfigError,
  STORAGE_KEY_SCHEMAS,
  StorageSchema,
  type WorkerSinkConfig,
} from './worker-keys.ts';

/**
 * Which key each setting of lib/config/config.ts comes from (for its problems' wording), longest name
 * first, so that no name is replaced inside a longer one.
 */
const SINK_KEYS_BY_SETTING: ReadonlyArray<readonly [env: string, key: string]> = (
  [
    ['SINK_BUCKET', 's3.bucket.name'],
    ['AWS_REGION', 's3.region'],
    ['LEDGER_TABLE', 'ledger.table'],
    ...Object.entries(SETTING_KEYS),
  ] as Array<[string, string]>
).sort(([a], [b]) => b.length - a.length);

/** What the operations commands take from a worker file (`readWorkerStorageFile`). */
export interface WorkerStorage {
  readonly ledger: LedgerChoice;
  /** The sink's configuration (bucket, prefixes, layout, region), as `loadStorageConfig` validated it. */
  readonly sink: WorkerSinkConfig;
}

/**
 * Validates the storage keys of raw key/values (`offset.storage.file.filename`, `ledger.table`,
 * `s3.*` and the sink's keys) with the worker's rules; other keys are not looked at.
 */
export function resolveWorkerStorage(
  input: ReadonlyMap<string, string> | Readonly<Record<string, string>>,
  env: Readonly<Record<string, string | undefined>>,
  options: { readonly source?: string; readonly baseDir?: string } = {},
): WorkerStorage {
  const source = options.source ?? 'configuration';
  const problems: string[] = [];
  const storageKeys = new Set(Object.keys(STORAGE_KEY_SCHEMAS));
  const given = new Map([...(input instanceof Map ? input : Object.entries(input))].filter(([key]) => storageKeys.has(key)));
  const raw = substituteEnv(given, env, problems);
  const parsed = StorageSchema.safeParse(Object.fromEntries(raw));
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${String(issue.path[0] ?? source)}: ${issue.message}`);
    throw new StandaloneConfigError(source, problems);
  }
  const { ledger, sink } = resolveStorage(parsed.data, env, options.baseDir ?? process.cwd(), problems);
  if (problems.length > 0 || !ledger || !sink) throw new StandaloneConfigError(source, problems.length > 0 ? problems : ['invalid']);
  return { ledger, sink };
}

/** `${env:NAME}` in each value replaced by that environment variable; a missing one is a problem. */
export function substituteEnv(
  input: ReadonlyMap<string, string> | Readonly<Record<string, string>>,
  env: Readonly<Record<string, string | undefined>>,
  problems: string[],
): Map<string, string> {
  const raw = new Map<string, string>();
  for (const [key, value] of input instanceof Map ? input : Object.entries(input)) {
    raw.set(
      key,
      value.replace(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g, (_: string, name: string) => {
        const found = env[name];
        if (found === undefined) problems.push(`${key}: \${env:${name}} is not set in the environment`);
        return found ?? '';
      }),
    );
  }
  return raw;
}

/** The ledger and the sink's configuration (validated by lib/config/config.ts); problems are added to `problems`. */
export function resolveStorage(
  c: z.infer<typeof StorageSchema>,
  env: Readonly<Record<string, string | undefined>>,
  baseDir: string,
  problems: string[],
): { ledger: LedgerChoice | undefined; sink: WorkerSinkConfig | undefined } {
  let ledger: LedgerChoice | undefined;
  const file = c['offset.storage.file.filename'];
  const table = c['ledger.table'] ?? env['LEDGER_TABLE'];
  if (file !== undefined && c['ledger.table'] !== undefined) {
    problems.push('offset.storage.file.filename, ledger.table: give one of them (a file ledger or the DynamoDB ledger)');
  } else if (file !== undefined) {
    ledger = { kind: 'file', path: resolve(baseDir, file) };
  } else if (table !== undefined) {
    ledger = { kind: 'dynamodb', table };
  } else {
    problems.push('offset.storage.file.filename or ledger.table (or LEDGER_TABLE): where the offsets live is required');
  }

  // The sink's settings, validated by lib/config/config.ts.
  const sinkEnv: Record<string, string | undefined> = {
    AWS_REGION: env['AWS_REGION'],
    AWS_ENDPOINT_URL: env['AWS_ENDPOINT_URL'],
    AWS_ENDPOINT_URL_S3: env['AWS_ENDPOINT_URL_S3'],
    AWS_ENDPOINT_URL_DYNAMODB: env['AWS_ENDPOINT_URL_DYNAMODB'],
  };
  if (c['s3.bucket.name'] !== undefined) sinkEnv['SINK_BUCKET'] = c['s3.bucket.name'];
  if (c['s3.region'] !== undefined) sinkEnv['AWS_REGION'] = c['s3.region'];
  problems.push(...sinkKeyProblems(c));
  Object.assign(sinkEnv, toSinkEnvironment(c));
  // The ledger is validated above; the sink's own loader checks the settings, and the bucket when there is one.
  const bucketGiven = c['s3.bucket.name'] !== undefined;
  if (!bucketGiven) problems.push('s3.bucket.name: required');
  let sink: WorkerSinkConfig | undefined;
  try {
    if (bucketGiven) sink = loadStorageConfig(sinkEnv);
    else loadSettings(sinkEnv); // the settings' problems are reported beside the missing bucket
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    const text = error.message.replace(/^Invalid sink configuration: /, '');
    for (const problem of text.split('; ')) problems.push(renameSinkSettings(problem));
  }
  return { ledger, sink };
}

/** lib/config/config.ts names settings by environment variable; name them by key here. */
function renameSinkSettings(problem: string): string {
  let text = problem;
  for (const [envName, key] of SINK_KEYS_BY_SETTING) text = text.replaceAll(envName, key);
  const key = /^([a-z0-9.]+)[: ]/.exec(text)?.[1];
  return key && STANDALONE_KEYS.includes(key as (typeof STANDALONE_KEYS)[number]) && !text.startsWith(`${key}:`) ? `${key}: ${text}` : text;
}
