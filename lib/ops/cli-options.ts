/**
 * The operations command line's options: the flags `parseArgs` knows, the usage text, the parser's
 * messages in the command line's own words, and the checks of option values.
 */
import type { parseArgs } from 'node:util';
import { SinkError } from '../core/errors.ts';
import { closestName } from '../config/suggest.ts';

/** A command-line mistake: answered with the usage hint and exit code 2. */
export class UsageError extends SinkError {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The text of `msk-s3-sink --help`. */
export const USAGE = `Usage: msk-s3-sink <command> [options]

Commands:
  status    where every topic-partition stands: committed offset, generation, last object, age;
            with --bootstrap-servers also the high-water mark and the lag, and marks a partition whose
            topic was deleted and created again
  verify    read S3 back and reconcile it with the ledger: gaps, overlaps, records current nowhere,
            unreadable objects, with --bootstrap-servers partitions whose topic was deleted and created
            again (errors); ranges the source skipped, orphans, dead letters, superseded objects
            (warnings). Exit 1 on any error; --strict: on warnings too
  locate    which object holds --offset N (or the first record at or after --timestamp T); for an
            offset the log skipped, the next record's object
  reset     move partitions of --topic back (replay) or forward (skip) as a new ledger generation
            (--to-offset N | --to-timestamp T | --to-earliest | --to-latest) --reason TEXT; refuses
            until the mapping has been disabled for longer than the function timeout
  replay    the whole replay: disable the mapping, fence the function (reserved concurrency 0) and
            wait out its timeout, reset the consumer group and the ledger, restore, enable
            (--function F, --bootstrap-servers); with --new-group G, a new mapping at --to-timestamp.
            Not for a standalone worker (--ledger-file): stop the worker, reset, start it
  prune     delete the objects that no generation counts as current (see verify); a dry run unless --yes;
            refuses a partition with any error; records who, when, what and how many in the ledger
  history   every reset and prune of the ledger's partitions: when, topic, partition, action, id, who,
            from, to, reason (--topic T, --partition P)
  manifest  write _manifest.json in each time partition of --topic that every partition has
            committed past (time partitioner; the layout from the function's SINK_* settings in the
            environment, or from a worker's file with --config; --partitions N: the topic's partition
            count; --grace-ms G)
  standalone <file>  run the sink as a long-running Kafka consumer (see msk-s3-sink standalone --help)

Where (defaults from the sink's own environment variables):
  --config FILE               a standalone worker's .properties or JSON file: the bucket (s3.bucket.name),
                              the prefixes (topics.dir, errors.deadletterqueue.s3.prefix), the layout
                              (partitioner.class, path.format, ...) and the ledger (offset.storage.file.filename,
                              relative to FILE, or ledger.table) in place of the variables below; the flags
                              below still win over it
  --bucket NAME               SINK_BUCKET
  --prefix PREFIX             SINK_PREFIX (topics/)
  --dead-letter-prefix PREFIX SINK_DEAD_LETTER_PREFIX (dead-letters/)
  --table NAME                LEDGER_TABLE
  --ledger-file PATH          LEDGER_FILE: a standalone worker's ledger file (offset.storage.file.filename)
                              instead of the table; reset then needs no --function: it refuses while a
                              worker holds the file
  --region REGION             AWS_REGION; AWS_ENDPOINT_URL_S3/_DYNAMODB/_LAMBDA for emulators

Selection: --topic T, --partition P (repeatable)
Kafka:     --bootstrap-servers host:port,...  --kafka-auth none|tls|scram-sha-256|scram-sha-512|msk-iam
           --kafka-username U (password from KAFKA_PASSWORD)
Mapping:   --function NAME, --mapping UUID, --poll-seconds N (how often to check its state; 5)
Safety:    --dry-run (show exactly what would change), --force (reset while invocations may still
           run, or a partition neither the ledger nor the cluster knows; replay --new-group when the
           function role's policy cannot be read; never past a ledger file's lock), --id ID (resume a
           reset or replay), --by WHO (default: the AWS caller's ARN from STS; user@host with a ledger
           file or AWS_ENDPOINT_URL*), --reason TEXT, --yes (prune: delete)
Output:    --json (for scripts), --read (verify: read every object too), --strict
`;

/** Every flag the operations commands know, for `parseArgs` (strict: any other is a usage error). */
export const OPTIONS = {
  config: { type: 'string' },
  bucket: { type: 'string' },
  prefix: { type: 'string' },
  'dead-letter-prefix': { type: 'string' },
  table: { type: 'string' },
  'ledger-file': { type: 'string' },
  region: { type: 'string' },
  topic: { type: 'string' },
  partition: { type: 'string', multiple: true },
  offset: { type: 'string' },
  timestamp: { type: 'string' },
  'to-offset': { type: 'string' },
  'to-timestamp': { type: 'string' },
  'to-earliest': { type: 'boolean' },
  'to-latest': { type: 'boolean' },
  reason: { type: 'string' },
  by: { type: 'string' },
  id: { type: 'string' },
  function: { type: 'string' },
  mapping: { type: 'string' },
  'new-group': { type: 'string' },
  'delete-old': { type: 'boolean' },
  'bootstrap-servers': { type: 'string' },
  'kafka-auth': { type: 'string' },
  'kafka-username': { type: 'string' },
  'poll-seconds': { type: 'string' },
  partitions: { type: 'string' },
  'grace-ms': { type: 'string' },
  'dry-run': { type: 'boolean' },
  yes: { type: 'boolean' },
  force: { type: 'boolean' },
  json: { type: 'boolean' },
  read: { type: 'boolean' },
  strict: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The parsed flags. */
export type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/**
 * Node's parser messages, in the command line's own words: an unknown option names the closest
 * known one ("did you mean …"), a missing value names its option.
 */
export function parseErrorMessage(error: unknown): string {
  const e = error as Error & { code?: string };
  const quoted = /'([^']+)'/.exec(e.message)?.[1];
  if (quoted === undefined) return e.message;
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const name = quoted.replace(/=.*$/, '');
    const suggestion = name.startsWith('--') ? closestName(name.slice(2), Object.keys(OPTIONS)) : undefined;
    return `unknown option ${name}${suggestion ? ` (did you mean --${suggestion}?)` : ''}`;
  }
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const name = quoted.split(' ')[0]!;
    return /argument missing/.test(e.message) ? `${name} needs a value` : `${name} takes no value`;
  }
  return e.message;
}

/** A key prefix as the layout needs it: empty, or ending in `/`. */
export function withSlash(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/** The value of option `name` as a non-negative safe integer; a usage error otherwise. */
export function nonNegative(name: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value))
    throw new UsageError(`${name} must be a non-negative integer, not ${JSON.stringify(text)}`);
  return value;
}

/** The value of option `name` as epoch milliseconds, from an ISO-8601 time or epoch milliseconds; a usage error otherwise. */
export function timestamp(name: string, text: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(value)) throw new UsageError(`${name} must be an ISO-8601 time or epoch milliseconds, not ${JSON.stringify(text)}`);
  return value;
}
