/**
 * How the sink's Kafka clients connect: bootstrap servers, plaintext, TLS, SASL/SCRAM or MSK IAM
 * (the token signer), as `@platformatic/kafka` client options. The operations CLI's admin
 * (./kafka-admin.ts) and the standalone worker both build their clients from these.
 */
import type { AdminOptions, SASLOptions } from '@platformatic/kafka';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { SinkError } from '../core/errors.ts';

/** How to connect: plaintext, TLS, SASL/SCRAM (over TLS unless `tls: false`), or MSK IAM (OAUTHBEARER over TLS). */
export type KafkaSecurity =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'tls';
      /** PEM CA bundle; the system's CAs when absent. */
      readonly ca?: string;
      /** PEM client certificate and key, for mutual TLS. */
      readonly cert?: string;
      readonly key?: string;
    }
  | {
      readonly kind: 'sasl-scram';
      readonly mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
      readonly username: string;
      readonly password: string;
      /** SASL_SSL (the default; Amazon MSK's SCRAM listener needs it) or SASL_PLAINTEXT (`false`). */
      readonly tls?: boolean;
      readonly ca?: string;
    }
  | {
      readonly kind: 'msk-iam';
      /** The cluster's AWS region; tokens are signed with the default credential chain. */
      readonly region: string;
    };

/** Where and how to connect: the operations admin's and the standalone worker's clients alike. */
export interface KafkaAdminOptions {
  /** `host:port` of one or more brokers. */
  readonly bootstrapServers: readonly string[];
  readonly security?: KafkaSecurity;
  readonly clientId?: string;
  /** Upper bound of each call, connection included (default 10 s). */
  readonly timeoutMs?: number;
}

/** A Kafka admin operation failed; subclasses name the usual causes. */
export class KafkaAdminError extends SinkError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KafkaAdminError';
  }
}

/** Signs an MSK IAM token: `generateAuthToken` of `aws-msk-iam-sasl-signer-js` by default. */
export type MskIamTokenSigner = (options: { region: string }) => Promise<{ token: string }>;

/** Upper bound of each call, connection included, unless `timeoutMs` says otherwise. */
export const DEFAULT_TIMEOUT_MS = 10_000;

async function defaultMskIamSigner(options: { region: string }): Promise<{ token: string }> {
  const { generateAuthToken } = await import('aws-msk-iam-sasl-signer-js');
  return generateAuthToken({ region: options.region });
}

/**
 * The `@platformatic/kafka` client options for these adapter options (exported for tests).
 * Nothing is called here: with MSK IAM, the signer runs when a connection authenticates.
 */
export function kafkaClientOptions(options: KafkaAdminOptions, signer: MskIamTokenSigner = defaultMskIamSigner): AdminOptions {
  if (options.bootstrapServers.length === 0) {
    throw new KafkaAdminError('No Kafka bootstrap servers given');
  }
  for (const server of options.bootstrapServers) {
    if (!/^[^\s:]+:\d+$/.test(server) && !/^\[[0-9a-fA-F:]+\]:\d+$/.test(server)) {
      throw new KafkaAdminError(`Malformed Kafka bootstrap server "${server}": expected host:port`);
    }
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const client: AdminOptions = {
    clientId: options.clientId ?? 'msk-s3-sink-ops',
    bootstrapBrokers: [...options.bootstrapServers],
    connectTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    timeout: timeoutMs,
    retries: 2,
    retryDelay: 250,
    autocreateTopics: false,
  };
  const security = options.security ?? { kind: 'none' };
  switch (security.kind) {
    case 'none':
      return client;
    case 'tls':
      return { ...client, tls: tlsOptions(security) };
    case 'sasl-scram': {
      const sasl: SASLOptions = { mechanism: security.mechanism, username: security.username, password: security.password };
      return security.tls === false ? { ...client, sasl } : { ...client, sasl, tls: tlsOptions(security) };
    }
    case 'msk-iam': {
      const region = security.region;
      const sasl: SASLOptions = {
        mechanism: 'OAUTHBEARER',
        token: async () => (await signer({ region })).token,
      };
      return { ...client, sasl, tls: {} };
    }
  }
}

function tlsOptions(security: { readonly ca?: string; readonly cert?: string; readonly key?: string }): TlsConnectionOptions {
  return {
    ...(security.ca === undefined ? {} : { ca: security.ca }),
    ...(security.cert === undefined ? {} : { cert: security.cert }),
    ...(security.key === undefined ? {} : { key: security.key }),
  };
}
