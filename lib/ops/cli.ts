/**
 * The operations command line: `msk-s3-sink <command>`. Reads the ledger and the bucket,
 * reconciles them, and resets or replays partitions. Kafka Connect's offset management
 * (KIP-875: stop the connector, alter or reset its offsets, resume) is the model.
 *
 * The ledger is the DynamoDB table (`--table`, `LEDGER_TABLE`) or a standalone worker's ledger
 * file (`--ledger-file`, `LEDGER_FILE`); the commands see both through `LedgerAdminPort`.
 * `--config FILE` takes the bucket, the prefixes, the layout and the ledger from a standalone
 * worker's own configuration file instead of the `SINK_*` variables; flags still win over it.
 *
 * Works against real AWS with the default credential chain, and against the local emulators
 * through the standard `AWS_ENDPOINT_URL*` variables.
 */
import { StandaloneConfigError } from '../config/worker-config.ts';
import { type CliIo, Context } from './cli-context.ts';
import { OPTIONS, parseErrorMessage, USAGE, UsageError, type Values } from './cli-options.ts';
import { describe } from './cli-output.ts';
import { history } from './history-command.ts';
import { locate } from './locate-command.ts';
import { manifest } from './manifest-command.ts';
import { prune } from './prune-command.ts';
import { replay } from './replay-command.ts';
import { reset } from './reset-command.ts';
import { status } from './status-command.ts';
import { verify } from './verify-command.ts';
import { parseArgs } from 'node:util';

export type { CliIo } from './cli-context.ts';
export { USAGE, UsageError } from './cli-options.ts';
export { table } from './cli-output.ts';

/** Runs one command; resolves to the process exit code. */
export async function runCli(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: CliIo): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true }));
  } catch (error) {
    io.stderr.write(`error: ${parseErrorMessage(error)}\n(see msk-s3-sink --help)\n`);
    return 2;
  }
  const [command, ...extra] = positionals;
  if (values.help || command === undefined || command === 'help') {
    io.stdout.write(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  try {
    if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    const context = new Context(values, env, io);
    try {
      switch (command) {
        case 'status':
          return await status(context);
        case 'verify':
          return await verify(context);
        case 'locate':
          return await locate(context);
        case 'reset':
          return await reset(context);
        case 'replay':
          return await replay(context);
        case 'prune':
          return await prune(context);
        case 'history':
          return await history(context);
        case 'manifest':
          return await manifest(context);
        default:
          throw new UsageError(`unknown command ${JSON.stringify(command)}`);
      }
    } finally {
      await context.close();
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`error: ${error.message}\n(see msk-s3-sink --help)\n`);
      return 2;
    }
    // The --config file lists every problem itself; as for the worker, a bad file is exit code 2.
    if (error instanceof StandaloneConfigError) {
      io.stderr.write(`error: ${error.message}\n`);
      return 2;
    }
    io.stderr.write(`error: ${describe(error)}\n`);
    return 1;
  }
}
