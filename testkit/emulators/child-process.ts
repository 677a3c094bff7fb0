/**
 * What every emulator launcher here needs around its server process (DynamoDB Local, moto, the
 * Kafka broker): free loopback ports, a bounded stop, and a watchdog that stops the server when
 * this process is killed outright.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

/** Distinct ports that were free a moment ago (all held open together, so they differ). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  const ports: number[] = [];
  for (const server of servers) {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    ports.push(typeof address === 'object' && address !== null ? address.port : 0);
  }
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

/** A launch found a port taken by another process between our probe and the server's bind. */
export class PortTakenError extends Error {}

/**
 * `launch` on `count` free ports, again on other ports (up to 5 attempts) while it fails with
 * `PortTakenError`; any other failure is thrown as it is. After 5 taken ports, throws what
 * `exhausted` makes of the last failure.
 */
export async function launchOnFreePorts<T>(
  count: number,
  launch: (ports: number[]) => Promise<T>,
  exhausted: (lastError: unknown) => Error,
): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      return await launch(await freePorts(count));
    } catch (err) {
      if (!(err instanceof PortTakenError)) throw err;
      lastError = err;
    }
  }
  throw exhausted(lastError);
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited (`exit`). */
export async function stopChild(child: ChildProcess, exit: Promise<void>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exit;
  clearTimeout(timer);
}

/**
 * Servers outlive a parent that is killed outright (SIGKILL, a test runner's timeout): its
 * teardown never runs. A tiny detached watchdog stops the server when this process is gone
 * (SIGTERM, SIGKILL `graceMs` later), removes its directory if it has one (nobody else will), and
 * exits by itself once the server has exited.
 */
const WATCHDOG = `
const [parent, child, graceMs] = process.argv.slice(1, 4).map(Number);
const dir = process.argv[4];
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; } };
let deadline;
setInterval(() => {
  if (!alive(child)) {
    if (dir && !alive(parent)) require('node:fs').rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }
  if (deadline === undefined && !alive(parent)) {
    deadline = Date.now() + graceMs;
    try { process.kill(child, 'SIGTERM'); } catch {}
  } else if (deadline !== undefined && Date.now() > deadline) {
    try { process.kill(child, 'SIGKILL'); } catch {}
  }
}, 500);
`;

/** Starts the watchdog of a server process (see WATCHDOG); `removeDir` is deleted once it is orphaned. */
export function startWatchdog(childPid: number, options: { readonly graceMs: number; readonly removeDir?: string }): void {
  const args = [
    '-e',
    WATCHDOG,
    String(process.pid),
    String(childPid),
    String(options.graceMs),
    ...(options.removeDir ? [options.removeDir] : []),
  ];
  const watchdog = spawn(process.execPath, args, { stdio: 'ignore', detached: true });
  watchdog.on('error', () => undefined);
  watchdog.unref();
}

/** How a process ended: its exit code and signal, and the error if it could not be run. */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly spawnError?: Error;
}

/** A launched process as its launcher follows it: the tail of its output and how it ended. */
export interface WatchedChild {
  /** The last characters of its stdout and stderr together (for error messages). */
  output(): string;
  /** How it ended; undefined while it runs. */
  ended(): ChildExit | undefined;
  /** Resolves once it has exited or could not be run. */
  readonly exit: Promise<void>;
}

/**
 * Follows a launched process: keeps the last `keepChars` characters of its output, draining both
 * pipes so that a full pipe never blocks it (servers log a line per request), and records how it
 * ended.
 */
export function watchChild(child: ChildProcess, keepChars = 4000): WatchedChild {
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-keepChars);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let ended: ChildExit | undefined;
  const exit = new Promise<void>((resolveExit) => {
    child.once('exit', (code, signal) => {
      ended = { code, signal };
      resolveExit();
    });
    child.once('error', (spawnError) => {
      ended = { code: ended?.code ?? null, signal: ended?.signal ?? null, spawnError };
      resolveExit();
    });
  });
  return { output: () => output, ended: () => ended, exit };
}
