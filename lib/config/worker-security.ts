/**
 * The standalone worker's Kafka security: `security.protocol`, SASL (PLAIN, SCRAM, the MSK IAM
 * signer) from `sasl.jaas.config`, and TLS material read from PEM files.
 */
import { resolve } from 'node:path';
import type { z } from 'zod';
import type { KafkaSecurity } from '../kafka/kafka-admin.ts';
import type { WorkerSchema } from './worker-keys.ts';

/** `org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="p";` */
export function parseJaasConfig(jaas: string): { module: string; options: Record<string, string> } | undefined {
  const match = /^\s*([A-Za-z0-9_.$]+)\s+(required|requisite|sufficient|optional)\b(.*?);?\s*$/s.exec(jaas);
  if (!match) return undefined;
  const options: Record<string, string> = {};
  const optionPattern = /([A-Za-z0-9_.]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]+))/g;
  for (const option of match[3]!.matchAll(optionPattern)) {
    options[option[1]!] = option[2] !== undefined ? option[2].replace(/\\(.)/g, '$1') : option[3]!;
  }
  return { module: match[1]!, options };
}

export function resolveSecurity(
  c: z.infer<typeof WorkerSchema>,
  env: Readonly<Record<string, string | undefined>>,
  context: { readonly baseDir: string; readonly readFile: (path: string) => string; readonly problems: string[] },
): KafkaSecurity | undefined {
  const { problems } = context;
  const protocol = c['security.protocol'];
  const pem = (
    key: 'ssl.ca.location' | 'ssl.truststore.location' | 'ssl.certificate.location' | 'ssl.key.location',
  ): string | undefined => {
    const path = c[key];
    if (path === undefined) return undefined;
    try {
      return context.readFile(resolve(context.baseDir, path));
    } catch (error) {
      problems.push(`${key}: cannot read ${path}: ${(error as Error).message}`);
      return undefined;
    }
  };
  const sslKeys = ['ssl.ca.location', 'ssl.truststore.location', 'ssl.certificate.location', 'ssl.key.location'] as const;
  const saslKeys = ['sasl.mechanism', 'sasl.jaas.config', 'sasl.username', 'sasl.password', 'sasl.aws.region'] as const;
  const usesTls = protocol === 'SSL' || protocol === 'SASL_SSL';
  const usesSasl = protocol === 'SASL_SSL' || protocol === 'SASL_PLAINTEXT';
  if (!usesTls) for (const key of sslKeys) if (c[key] !== undefined) problems.push(`${key}: needs security.protocol SSL or SASL_SSL`);
  if (!usesSasl)
    for (const key of saslKeys) if (c[key] !== undefined) problems.push(`${key}: needs security.protocol SASL_SSL or SASL_PLAINTEXT`);
  if (c['ssl.truststore.location'] !== undefined && c['ssl.truststore.type'] !== 'PEM') {
    problems.push('ssl.truststore.location: set ssl.truststore.type=PEM (only PEM trust stores are read), or use ssl.ca.location');
  }
  if ((c['ssl.certificate.location'] === undefined) !== (c['ssl.key.location'] === undefined)) {
    problems.push('ssl.certificate.location, ssl.key.location: give both (mutual TLS) or neither');
  }
  const ca = usesTls ? (pem('ssl.ca.location') ?? pem('ssl.truststore.location')) : undefined;
  switch (protocol) {
    case 'PLAINTEXT':
      return { kind: 'none' };
    case 'SSL': {
      const cert = pem('ssl.certificate.location');
      const key = pem('ssl.key.location');
      return {
        kind: 'tls',
        ...(ca === undefined ? {} : { ca }),
        ...(cert === undefined ? {} : { cert }),
        ...(key === undefined ? {} : { key }),
      };
    }
    case 'SASL_PLAINTEXT':
    case 'SASL_SSL': {
      if (c['ssl.certificate.location'] !== undefined)
        problems.push('ssl.certificate.location: client certificates go with security.protocol=SSL');
      const mechanism = c['sasl.mechanism'];
      if (mechanism === undefined) {
        problems.push('sasl.mechanism: required with SASL (SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM)');
        return undefined;
      }
      const jaas = c['sasl.jaas.config'] === undefined ? undefined : parseJaasConfig(c['sasl.jaas.config']);
      if (c['sasl.jaas.config'] !== undefined && jaas === undefined) {
        problems.push('sasl.jaas.config: expected `<LoginModule> required key="value" ...;`');
      }
      if (mechanism === 'AWS_MSK_IAM') {
        if (protocol !== 'SASL_SSL') problems.push('sasl.mechanism: AWS_MSK_IAM needs security.protocol=SASL_SSL');
        if (jaas && !jaas.module.endsWith('IAMLoginModule'))
          problems.push('sasl.jaas.config: AWS_MSK_IAM takes software.amazon.msk.auth.iam.IAMLoginModule');
        if (c['sasl.username'] !== undefined || c['sasl.password'] !== undefined) {
          problems.push('sasl.username, sasl.password: not used with AWS_MSK_IAM (credentials come from the AWS default chain)');
        }
        const region = c['sasl.aws.region'] ?? c['s3.region'] ?? env['AWS_REGION'];
        if (region === undefined) {
          problems.push("sasl.aws.region: the MSK cluster's region is required with AWS_MSK_IAM (or s3.region, or AWS_REGION)");
          return undefined;
        }
        return { kind: 'msk-iam', region };
      }
      if (jaas && !jaas.module.endsWith('ScramLoginModule'))
        problems.push(`sasl.jaas.config: ${mechanism} takes org.apache.kafka.common.security.scram.ScramLoginModule`);
      const username = c['sasl.username'] ?? jaas?.options['username'];
      const password = c['sasl.password'] ?? jaas?.options['password'];
      if (username === undefined || password === undefined) {
        problems.push(`sasl.username, sasl.password: ${mechanism} needs a username and a password (or sasl.jaas.config with both)`);
        return undefined;
      }
      return {
        kind: 'sasl-scram',
        mechanism,
        username,
        password,
        tls: protocol === 'SASL_SSL',
        ...(ca === undefined ? {} : { ca }),
      };
    }
  }
}
