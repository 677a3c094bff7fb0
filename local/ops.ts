/**
 * The operations command line on a directory that local mode kept (`npm start -- --keep DIR`):
 * starts the emulators on DIR's data, runs `msk-s3-sink <command>` against them, stops them.
 *
 *   npm run ops:local -- DIR status
 *   npm run ops:local -- DIR reset --topic sim.orders --partition 0 --to-offset 100 --reason "reprocess" --force
 *   npm run ops:local -- DIR verify --read
 */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { runCli } from '../lib/cli.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../testkit/emulators/clients.ts';
import { startDynamoDbLocal } from '../testkit/emulators/dynamodb-local.ts';
import { checkPrerequisites, PrerequisiteError } from '../testkit/emulators/prerequisites.ts';
import { startS3Emulator } from '../testkit/emulators/s3-emulator.ts';
// The names local mode uses.
import { BUCKET, TABLE } from './options.ts';

const [directory, ...command] = process.argv.slice(2);
const userCwd = process.env['INIT_CWD'] ?? process.cwd();
if (!directory || directory.startsWith('-') || command.length === 0) {
  process.stderr.write(
    'usage: npm run ops:local -- DIR <command> [options]   (DIR: kept by `npm start -- --keep DIR`; commands: msk-s3-sink --help)\n',
  );
  process.exit(2);
}
const dir = resolve(userCwd, directory);
const entries = await readdir(dir).catch(() => [] as string[]);
if (!entries.includes('s3') || !entries.includes('dynamodb')) {
  process.stderr.write(`error: ${dir} holds no data kept by local mode (run \`npm start -- --keep ${directory}\` first)\n`);
  process.exit(2);
}
// The emulators take any credentials; never the user's real ones.
for (const name of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_ENDPOINT_URL']) delete process.env[name];
Object.assign(process.env, {
  AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  AWS_EC2_METADATA_DISABLED: 'true',
});
try {
  // DynamoDB Local runs on Java: say what to install in one line rather than with a stack.
  checkPrerequisites({ java: true });
} catch (err) {
  if (!(err instanceof PrerequisiteError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}
const [s3, dynamo] = await Promise.all([
  startS3Emulator({ dataDir: join(dir, 's3') }),
  startDynamoDbLocal({ dataDir: join(dir, 'dynamodb') }),
]);
let code = 1;
try {
  code = await runCli(
    command,
    {
      SINK_BUCKET: BUCKET,
      LEDGER_TABLE: TABLE,
      AWS_REGION: LOCAL_REGION,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      ...(process.env['KAFKA_PASSWORD'] ? { KAFKA_PASSWORD: process.env['KAFKA_PASSWORD'] } : {}),
    },
    { stdout: process.stdout, stderr: process.stderr, now: Date.now },
  );
} finally {
  await Promise.all([s3.stop(), dynamo.stop()]);
}
process.exitCode = code;
