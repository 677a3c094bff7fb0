/**
 * The command line's entry: `msk-s3-sink standalone …` runs the long-running worker
 * (lib/standalone/cli.ts), anything else the operations commands (lib/ops/cli.ts). This is the one
 * module that knows both front ends, so that neither imports the other; bin/msk-s3-sink.mjs and
 * the bundle (scripts/build-cli.mjs) start here. The worker is loaded only when asked for.
 */
import { type CliIo, runCli as runOperations } from './ops/cli.ts';

export type { CliIo };

/** Runs one command line (`standalone …` or an operations command); resolves to the process exit code. */
export async function runCli(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: CliIo): Promise<number> {
  if (argv[0] === 'standalone') return (await import('./standalone/cli.ts')).runStandalone(argv.slice(1), env, io);
  return runOperations(argv, env, io);
}
