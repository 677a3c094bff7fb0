import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { LedgerConflictError } from '../core/errors.ts';
import {
  type LedgerEntry,
  type LedgerPosition,
  type NamingDeclaration,
  type OffsetLedger,
  SkipKind,
  type SkippedRange,
} from '../core/ports.ts';

/**
 * The offset ledger in DynamoDB (table from `ledgerTableDefinition`). This adapter only maps
 * items and turns `ConditionalCheckFailedException` into `LedgerConflictError`; the protocol
 * lives in the core. Throttling and 5xx are retried by the SDK's own retry strategy.
 */
export class DynamoDbOffsetLedger implements OffsetLedger {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;

  constructor(options: { readonly client: DynamoDBClient; readonly tableName: string }) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  async read(topic: string, partition: number): Promise<LedgerEntry | undefined> {
    const { Item } = await this.#client.send(
      new GetItemCommand({
        TableName: this.#tableName,
        Key: { topic: { S: topic }, partition: { N: String(partition) } },
        ConsistentRead: true,
      }),
    );
    return Item ? toEntry(Item) : undefined;
  }

  async declareNaming(expected: LedgerPosition | undefined, declaration: NamingDeclaration): Promise<void> {
    const { topic, partition, naming, previous } = declaration;
    const names: Record<string, string> = { '#naming': NAMING_ATTRIBUTE };
    const values: Record<string, AttributeValue> = { ':naming': { S: naming } };
    let update = 'SET #naming = :naming';
    let condition: string;
    if (expected === undefined) {
      // A new entry: generation 0, nothing committed yet.
      condition = 'attribute_not_exists(#topic)';
      names['#topic'] = 'topic';
      Object.assign(names, LEDGER_ATTRIBUTE_NAMES);
      update +=
        ', #generation = :generation, #committed = :committed, #lastObjectKey = :lastObjectKey, ' +
        '#lastRecordCount = :lastRecordCount, #updatedAt = :updatedAt';
      Object.assign(values, {
        ':generation': { N: '0' },
        ':committed': { N: '-1' },
        ':lastObjectKey': { NULL: true },
        ':lastRecordCount': { N: '0' },
        ':updatedAt': { S: declaration.updatedAt },
      });
    } else {
      names['#generation'] = 'generation';
      names['#committed'] = 'committedOffset';
      values[':expectedGeneration'] = { N: String(expected.generation) };
      values[':expectedCommitted'] = { N: String(expected.committedOffset) };
      condition = '#generation = :expectedGeneration AND #committed = :expectedCommitted AND ';
      if (previous === undefined) {
        condition += 'attribute_not_exists(#naming)';
      } else {
        condition += '#naming = :previous';
        values[':previous'] = { S: previous };
      }
    }
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: { topic: { S: topic }, partition: { N: String(partition) } },
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException') {
        throw new LedgerConflictError(`Ledger of ${topic}-${partition} moved: cannot record its naming settings`, { cause: error });
      }
      throw error;
    }
  }

  async advance(expected: LedgerPosition | undefined, next: LedgerEntry): Promise<void> {
    // The condition is what the writer read: the same generation and a committed offset below
    // the new one, so concurrent writers resolve to the highest offset and never go back.
    const condition = expected ? '#generation = :generation AND #committed < :committed' : 'attribute_not_exists(#topic)';
    // The skipped ranges, the naming settings and the topic id are written only when the writer passes them
    // (the whole bounded list it computed from what it read), so a plain commit leaves them be.
    const extraSets: string[] = [];
    const extraNames: Record<string, string> = {};
    const extraValues: Record<string, AttributeValue> = {};
    if (next.skippedRanges !== undefined) {
      extraSets.push('#skippedRanges = :skippedRanges');
      extraNames['#skippedRanges'] = SKIPPED_RANGES_ATTRIBUTE;
      extraValues[':skippedRanges'] = { L: next.skippedRanges.map(toSkippedRangeItem) };
    }
    if (next.naming !== undefined) {
      extraSets.push('#naming = :naming');
      extraNames['#naming'] = NAMING_ATTRIBUTE;
      extraValues[':naming'] = { S: next.naming };
    }
    if (next.topicId !== undefined) {
      extraSets.push('#topicId = :topicId');
      extraNames['#topicId'] = TOPIC_ID_ATTRIBUTE;
      extraValues[':topicId'] = { S: next.topicId };
    }
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: { topic: { S: next.topic }, partition: { N: String(next.partition) } },
          UpdateExpression:
            'SET #generation = :generation, #committed = :committed, #lastObjectKey = :lastObjectKey, ' +
            '#lastRecordCount = :lastRecordCount, #updatedAt = :updatedAt' +
            extraSets.map((set) => `, ${set}`).join(''),
          ConditionExpression: condition,
          ExpressionAttributeNames: { ...LEDGER_ATTRIBUTE_NAMES, ...extraNames, ...(expected ? {} : { '#topic': 'topic' }) },
          ExpressionAttributeValues: {
            ':generation': { N: String(next.generation) },
            ':committed': { N: String(next.committedOffset) },
            ':lastObjectKey': next.lastObjectKey === null ? { NULL: true } : { S: next.lastObjectKey },
            ':lastRecordCount': { N: String(next.lastRecordCount) },
            ':updatedAt': { S: next.updatedAt },
            ...extraValues,
          },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException') {
        throw new LedgerConflictError(
          `Ledger of ${next.topic}-${next.partition} moved: cannot advance to ${next.committedOffset} from ` +
            (expected ? `generation ${expected.generation} offset ${expected.committedOffset}` : 'no entry'),
          { cause: error },
        );
      }
      throw error;
    }
  }
}

/** The ledger item's attributes as update expressions name them (`toEntry` reads the same). */
export const LEDGER_ATTRIBUTE_NAMES = {
  '#generation': 'generation',
  '#committed': 'committedOffset',
  '#lastObjectKey': 'lastObjectKey',
  '#lastRecordCount': 'lastRecordCount',
  '#updatedAt': 'updatedAt',
} as const;

/** The item attribute holding the skipped ranges (a list of maps, oldest first). */
export const SKIPPED_RANGES_ATTRIBUTE = 'skippedRanges';
/** The item attribute holding the naming settings of the last commit. */
export const NAMING_ATTRIBUTE = 'naming';
/** The item attribute holding the Kafka topic id the committed offsets belong to (`LedgerEntry.topicId`). */
export const TOPIC_ID_ATTRIBUTE = 'topicId';

/**
 * A skipped range as a compact map (`k` kind, `g` generation, `f`/`t` from/to offset, `at` epoch
 * ms): a partition that skips at every batch start (compaction, transaction markers) keeps its
 * full history, and the item stays under 1 KB, so a commit still costs one write unit.
 */
function toSkippedRangeItem(range: SkippedRange): AttributeValue {
  return {
    M: {
      k: { S: range.kind },
      g: { N: String(range.generation) },
      f: { N: String(range.fromOffset) },
      t: { N: String(range.toOffset) },
      at: { N: String(Date.parse(range.detectedAt)) },
    },
  };
}

function fromSkippedRangeItem(value: AttributeValue): SkippedRange {
  const map = value.M ?? {};
  const at = Number(map['at']?.N);
  return {
    kind: map['k']?.S === SkipKind.start ? SkipKind.start : SkipKind.gap,
    generation: Number(map['g']?.N ?? 0),
    fromOffset: Number(map['f']?.N ?? 0),
    toOffset: Number(map['t']?.N ?? -1),
    detectedAt: Number.isFinite(at) ? new Date(at).toISOString() : '',
  };
}

/** Maps a ledger item to an entry. */
export function toEntry(item: Record<string, AttributeValue>): LedgerEntry {
  const skipped = item[SKIPPED_RANGES_ATTRIBUTE]?.L;
  const naming = item[NAMING_ATTRIBUTE]?.S;
  const topicId = item[TOPIC_ID_ATTRIBUTE]?.S;
  return {
    topic: item['topic']?.S ?? '',
    partition: Number(item['partition']?.N ?? -1),
    generation: Number(item['generation']?.N ?? 0),
    committedOffset: Number(item['committedOffset']?.N ?? -1),
    lastObjectKey: item['lastObjectKey']?.S ?? null,
    lastRecordCount: Number(item['lastRecordCount']?.N ?? 0),
    updatedAt: item['updatedAt']?.S ?? '',
    ...(skipped && skipped.length > 0 ? { skippedRanges: skipped.map(fromSkippedRangeItem) } : {}),
    ...(naming !== undefined ? { naming } : {}),
    ...(topicId !== undefined ? { topicId } : {}),
  };
}
