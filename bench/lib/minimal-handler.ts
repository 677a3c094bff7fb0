/**
 * The baseline of the cold-start benchmark: a Lambda handler that imports and constructs only
 * the two SDK clients the sink uses, bundled by the construct's own esbuild options. Module
 * initialisation of the real functions is reported as a ratio to this one's, so the figure says
 * what the sink adds on top of the SDK it cannot do without.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';

const dynamoDb = new DynamoDBClient({});
const s3 = new S3Client({});

/** Does nothing with the clients: only module initialisation is measured. */
export const handler = async (): Promise<number> => [dynamoDb, s3].length;
