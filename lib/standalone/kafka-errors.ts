/**
 * The standalone worker's errors, and what it reads from @platformatic/kafka's errors (which nest:
 * `errors` of an aggregate, `cause`): the Kafka error codes of the leaves, and a message of them.
 */
import { SinkError } from '../core/errors.ts';

/** A Kafka request of the fetch loop, abandoned because the worker is stopping (never logged). */
export class StopRequestedError extends SinkError {
  constructor() {
    super('The worker is stopping: Kafka request abandoned');
    this.name = 'StopRequestedError';
  }
}

/** A failure the worker cannot recover from by retrying (exit code 1). */
export class WorkerFatalError extends SinkError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'WorkerFatalError';
  }
}

/** The innermost errors of a Kafka error (aggregates and causes unfolded). */
export function leafErrors(error: unknown, depth = 0): Array<Error & { apiId?: string; code?: string }> {
  if (!(error instanceof Error) || depth > 8) return [];
  const e = error as Error & { errors?: unknown };
  const nested = [...(Array.isArray(e.errors) ? e.errors : []), ...(error.cause === undefined ? [] : [error.cause])].flatMap((inner) =>
    leafErrors(inner, depth + 1),
  );
  return nested.length > 0 ? nested : [error];
}

/** True when one of the innermost errors has this Kafka error code (`apiId`). */
export function hasApiId(error: unknown, apiId: string): boolean {
  return leafErrors(error).some((leaf) => leaf.apiId === apiId);
}

/** True when Kafka refused the credentials or a permission: retrying cannot help. */
export function isAuthError(error: unknown): boolean {
  return leafErrors(error).some(
    (leaf) =>
      leaf.code === 'PLT_KFK_AUTHENTICATION' ||
      ['SASL_AUTHENTICATION_FAILED', 'TOPIC_AUTHORIZATION_FAILED', 'GROUP_AUTHORIZATION_FAILED', 'UNSUPPORTED_SASL_MECHANISM'].includes(
        leaf.apiId ?? '',
      ),
  );
}

/** The innermost errors' codes and messages: what Kafka answered, for a message. */
export function describeKafkaError(error: unknown): string {
  const leaves = leafErrors(error);
  const parts = [...new Set(leaves.map((leaf) => (leaf.apiId ? `${leaf.apiId}: ${leaf.message}` : leaf.message)))];
  return parts.join('; ') || String(error);
}
