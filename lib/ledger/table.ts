/**
 * The ledger table's key, as DynamoDB's CreateTable input spells it. The CDK construct, local
 * mode and the tests all create the table from this one definition.
 *
 * One item per topic-partition: hash key `topic` (S), range key `partition` (N).
 */
export const ledgerTableDefinition = {
  KeySchema: [
    { AttributeName: 'topic', KeyType: 'HASH' },
    { AttributeName: 'partition', KeyType: 'RANGE' },
  ],
  AttributeDefinitions: [
    { AttributeName: 'topic', AttributeType: 'S' },
    { AttributeName: 'partition', AttributeType: 'N' },
  ],
} as const;
