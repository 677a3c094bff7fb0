/**
 * Parsing and validation of the Lambda Kafka event (Amazon MSK `aws:kafka` and self-managed
 * `SelfManagedKafka`). A malformed event is rejected whole with a `MalformedEventError` that
 * lists every problem as `path: what is wrong` (DESIGN.md, "Bad input").
 *
 * The shape is checked by our own code rather than Powertools' parser: its Kafka schemas
 * decode keys and values to UTF-8 strings (binary values would be lost) and do not check
 * offsets. No zod at run time (it was zod/mini until the functions' cold start was lightened;
 * test/support/event-zod-oracle.ts keeps that version, and test/unit/event-fast-path.test.ts
 * checks that this one words every problem the same).
 */
import type { KafkaBatch } from '../core/model.ts';
import { parseWithProblems } from './event-careful-pass.ts';
import { parseWellFormed } from './event-fast-pass.ts';

/**
 * Parses and validates a Lambda Kafka event. Returns the partitions in the event's key order
 * (lists that are empty are left out), each with its records in order, keys, values and header
 * values as bytes. Throws `MalformedEventError` listing every problem found.
 *
 * Two passes over the same rules: a fast one for the well-formed case (no intermediate
 * objects, no problem collected), and, when it meets anything it does not accept, the careful
 * pass, which is the source of truth and words every problem. The fast pass only accepts what
 * the careful one accepts, and builds the same records (test/unit/event-fast-path.test.ts
 * checks both on random events).
 */
export function parseKafkaEvent(event: unknown): KafkaBatch {
  let batch: KafkaBatch | undefined;
  try {
    batch = parseWellFormed(event);
  } catch {
    batch = undefined; // e.g. a getter that throws: the careful pass says what is wrong
  }
  return batch ?? parseWithProblems(event);
}
