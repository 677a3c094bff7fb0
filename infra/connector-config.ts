/**
 * Kafka Connect-style configuration for the CDK app: the names Kafka Connect users know
 * (`topics`, `flush.size`, `consumer.auto.offset.reset`, `errors.tolerance`, `topics.dir`, ...)
 * plus a few `lambda.*`/`msk.*`/`kafka.*` keys for what Kafka Connect has no name for. Read from a
 * JSON or YAML file and/or CDK context, validated with zod; every problem (unknown key, bad value,
 * conflicting keys) is reported in ONE error. docs/configuration.md documents every key.
 *
 * The keys are in connector-schema.ts, the checks across keys in connector-checks.ts, the mapping
 * onto the construct in connector-props.ts, the placeholders in connector-placeholders.ts.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { Construct } from 'constructs';
import { closestName } from '../lib/config/suggest.ts';
import { parse as parseYaml } from 'yaml';
import type { MskS3SinkProps } from './msk-s3-sink.ts';
import { mentionsAny, semanticProblems } from './connector-checks.ts';
import { isRecord } from './connector-placeholders.ts';
import { toProps } from './connector-props.ts';
import {
  type ConnectorConfig,
  ConnectorConfigError,
  ConnectorConfigFileError,
  ConnectorSchema,
  type ParsedConnector,
  UNSUPPORTED_KEYS,
} from './connector-schema.ts';

export { type Placeholder, EXAMPLE_ACCOUNTS, findPlaceholders } from './connector-placeholders.ts';
export { layoutSettings } from './connector-props.ts';
export {
  type ConnectorConfig,
  ConnectorConfigError,
  ConnectorConfigFileError,
  startingPosition,
  UNSUPPORTED_KEYS,
} from './connector-schema.ts';

/** Reads a connector configuration file (`.json`, `.yaml` or `.yml`). */
export function readConnectorConfigFile(path: string): Record<string, unknown> {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConnectorConfigFileError(path, (error as NodeJS.ErrnoException).code, { cause: error });
  }
  const extension = extname(path).toLowerCase();
  let parsed: unknown;
  try {
    parsed = extension === '.json' ? JSON.parse(content) : parseYaml(content);
  } catch (error) {
    throw new ConnectorConfigError([`${path}: not valid ${extension === '.json' ? 'JSON' : 'YAML'}: ${(error as Error).message}`]);
  }
  // Kafka Connect's REST form: { "name": ..., "config": { ... } }.
  if (isRecord(parsed) && isRecord(parsed.config)) {
    const { config, ...rest } = parsed;
    parsed = { ...rest, ...config };
  }
  if (!isRecord(parsed)) throw new ConnectorConfigError([`${path}: must hold an object of keys`]);
  return parsed;
}

/** What the app builds from a configuration: the construct's props and the stack's name and region. */
export interface ResolvedConnector {
  readonly stackName: string;
  readonly region: string | undefined;
  /** Builds the construct props; CDK references (secrets, subnets, keys) are created in `scope`. */
  readonly props: (scope: Construct) => MskS3SinkProps;
  /** The validated keys, for reference. */
  readonly config: ParsedConnector;
}

/** Validates a configuration and maps it onto the construct. Throws one `ConnectorConfigError` listing every problem. */
export function resolveConnectorConfig(raw: ConnectorConfig): ResolvedConnector {
  const problems: string[] = [];
  const known = new Set(Object.keys(ConnectorSchema.shape));
  for (const key of Object.keys(raw)) {
    if (key in UNSUPPORTED_KEYS) problems.push(`${key}: not supported: ${UNSUPPORTED_KEYS[key]}`);
    else if (!known.has(key)) {
      const suggestion = closestName(key, known);
      problems.push(`${key}: unknown key${suggestion ? ` (did you mean ${suggestion}?)` : ''}`);
    }
  }
  const supported = Object.fromEntries(Object.entries(raw).filter(([key]) => known.has(key)));
  const parsed = ConnectorSchema.safeParse(supported);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.') || '(config)'}: ${issue.message}`);
    // The cross-key checks run in the same pass, over the keys whose own values are valid, so
    // that one error lists every problem; a check that rests on a key with its own error is left
    // out (its answer would be made up: "one is required" for a given but malformed ARN).
    const failed = new Set(parsed.error.issues.map((issue) => String(issue.path[0] ?? '')));
    const valid = ConnectorSchema.partial().safeParse(Object.fromEntries(Object.entries(supported).filter(([key]) => !failed.has(key))));
    if (valid.success) problems.push(...semanticProblems(valid.data).filter((problem) => !mentionsAny(problem, failed)));
  }
  if (parsed.success) problems.push(...semanticProblems(parsed.data));
  if (!parsed.success || problems.length > 0) throw new ConnectorConfigError(problems);
  const config = parsed.data;
  return {
    stackName: config.name ?? 'MskS3Sink',
    region: config['s3.region'],
    config,
    props: (scope) => toProps(scope, config),
  };
}
