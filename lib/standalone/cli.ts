/**
 * `msk-s3-sink standalone <file>`: runs the standalone worker until SIGTERM/SIGINT.
 *
 * Exit codes, for supervisors (systemd, Kubernetes, Docker restart policies):
 *   0  stopped on request, everything fetched was delivered and committed
 *   1  a fatal error (Kafka unreachable for good, refused credentials, a poison record with
 *      errors.tolerance=none, the ledger file held by another live process); restarting is safe
 *   2  bad configuration or usage: nothing was started
 */
import { parseArgs } from 'node:util';
import { createAwsClients } from '../aws/clients.ts';
import { DynamoDbOffsetLedger } from '../aws/dynamodb-ledger.ts';
import { S3ObjectStore } from '../aws/s3-object-store.ts';
import { ConfigurationError } from '../core/errors.ts';
import type { OffsetLedger } from '../core/ports.ts';
import { systemClock } from '../core/ports.ts';
import { deliveryOptions } from '../sink/sink.ts';
import { readStandaloneConfigFile, type StandaloneConfig } from '../config/worker-config.ts';
import { FileOffsetLedger } from '../ledger/file-ledger.ts';
import { createJsonLogger, errorFields, logLevelFrom, StatusLine, type TextSink } from './log.ts';
import { StandaloneWorker, type WorkerStatus } from './worker.ts';

export const STANDALONE_USAGE = `Usage: msk-s3-sink standalone <worker.properties | worker.json> [--check]

Runs the sink as a long-running Kafka consumer (one process; several with the same group.id share
the partitions). Stops on SIGTERM or SIGINT after delivering what it fetched; committing, leaving
the group and closing the Kafka clients get task.shutdown.graceful.timeout.ms (5000) at most.
  --check   validate the configuration, print it (secrets hidden) and exit
Exit codes: 0 stopped cleanly, 1 fatal error, 2 bad configuration.
See the README's "Standalone mode" and examples/standalone.properties.
`;

export interface StandaloneIo {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
}

/** Parses, starts and runs the worker; resolves to the exit code. */
export async function runStandalone(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: StandaloneIo,
): Promise<number> {
  let values: { check?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      options: { check: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    }));
  } catch (error) {
    io.stderr.write(`error: ${(error as Error).message}\n${STANDALONE_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(STANDALONE_USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    io.stderr.write(`error: give one configuration file\n${STANDALONE_USAGE}`);
    return 2;
  }
  let config: StandaloneConfig;
  try {
    config = readStandaloneConfigFile(positionals[0]!, env);
  } catch (error) {
    if (error instanceof ConfigurationError) {
      io.stderr.write(`error: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (values.check) {
    io.stdout.write(`${JSON.stringify(describeConfig(config), null, 2)}\n`);
    return 0;
  }

  const status = new StatusLine(io.stderr);
  const logger = createJsonLogger({ out: io.stderr, level: logLevelFrom(env), status, fields: { worker: config.name } });
  let ledger: OffsetLedger;
  let closeLedger = async (): Promise<void> => undefined;
  const clients = createAwsClients(config.sink.aws);
  try {
    if (config.ledger.kind === 'file') {
      const fileLedger = FileOffsetLedger.open(config.ledger.path, {
        // A takeover means the previous holder died without releasing: worth a line (issue 16).
        onStaleLock: (stale) =>
          logger.warn('Took over a stale lock of the offset ledger file', {
            lock: stale.lockPath,
            reason: stale.reason,
            stalePid: stale.holder?.pid,
            staleHost: stale.holder?.host,
            staleSince: stale.holder?.at,
          }),
      });
      ledger = fileLedger;
      closeLedger = () => fileLedger.close();
    } else {
      ledger = new DynamoDbOffsetLedger({ client: clients.dynamoDb, tableName: config.ledger.table });
    }
  } catch (error) {
    logger.error('Cannot open the offset ledger', errorFields(error));
    io.stderr.write(`error: ${(error as Error).message}\n`);
    clients.s3.destroy();
    clients.dynamoDb.destroy();
    return error instanceof ConfigurationError ? 2 : 1;
  }

  const worker = new StandaloneWorker({
    config,
    delivery: deliveryOptions(config.sink),
    ledger,
    store: new S3ObjectStore({ client: clients.s3, bucket: config.sink.bucket }),
    clock: systemClock,
    logger,
  });

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      logger.info('Stopping: delivering what was fetched, then leaving the group', { signal });
      worker.stop();
    } else {
      logger.warn('Second signal: exiting now; the ledger resumes delivery on the next start', { signal });
      process.exit(1);
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  let last = { at: Date.now(), delivered: 0 };
  const ticker = status.enabled
    ? setInterval(() => {
        const now = Date.now();
        const s = worker.status();
        const rate = ((s.stats.recordsDelivered - last.delivered) * 1000) / Math.max(1, now - last.at);
        last = { at: now, delivered: s.stats.recordsDelivered };
        status.show(statusText(config, s, rate));
      }, 1_000)
    : undefined;

  try {
    await worker.run();
    return 0;
  } catch (error) {
    logger.error('Standalone worker failed', errorFields(error));
    return 1;
  } finally {
    if (ticker) clearInterval(ticker);
    status.clear();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await closeLedger().catch(() => undefined);
    clients.s3.destroy();
    clients.dynamoDb.destroy();
  }
}

function statusText(config: StandaloneConfig, s: WorkerStatus, rate: number): string {
  const n = (value: number): string => Math.round(value).toLocaleString('en-US');
  return (
    `${config.name} | ${s.partitions} partitions${s.refused > 0 ? ` (${s.refused} refused: topic re-created)` : ''} | ` +
    `${n(s.stats.recordsDelivered)} delivered, ${n(rate)} rec/s | ` +
    `lag ${s.lag === undefined ? '?' : n(s.lag)} | buffered ${n(s.buffered)} | ${n(s.stats.objectsWritten)} objects`
  );
}

/** The resolved configuration, secrets hidden (for --check). */
export function describeConfig(config: StandaloneConfig): Record<string, unknown> {
  const security = config.security;
  return {
    name: config.name,
    bootstrapServers: config.bootstrapServers,
    topics: config.topics.kind === 'list' ? config.topics.names : { regex: config.topics.pattern.source },
    groupId: config.groupId,
    clientId: config.clientId,
    autoOffsetReset: config.autoOffsetReset,
    flushIntervalMs: config.flushIntervalMs,
    flushSize: config.flushSize,
    sessionTimeoutMs: config.sessionTimeoutMs,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    metadataMaxAgeMs: config.metadataMaxAgeMs,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    security:
      security.kind === 'sasl-scram'
        ? {
            kind: security.kind,
            mechanism: security.mechanism,
            username: security.username,
            password: '********',
            tls: security.tls !== false,
            ca: security.ca ? 'PEM' : undefined,
          }
        : security.kind === 'tls'
          ? { kind: security.kind, ca: security.ca ? 'PEM' : undefined, clientCertificate: security.cert !== undefined }
          : security,
    ledger: config.ledger,
    sink: {
      bucket: config.sink.bucket,
      prefix: config.sink.prefix,
      compression: config.sink.compression,
      format: config.sink.format,
      valueConverter: config.sink.valueConverter,
      errorsTolerance: config.sink.errorsTolerance,
      deadLetterPrefix: config.sink.deadLetterPrefix,
      maxConcurrency: config.sink.maxConcurrency,
      aws: config.sink.aws,
    },
  };
}
