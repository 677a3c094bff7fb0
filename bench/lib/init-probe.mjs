// Imports one module in a fresh process and prints how long the import took (module
// initialisation: loading, compiling, and running the top level). Usage:
//   node [--import tsx] bench/lib/init-probe.mjs FILE
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const target = resolve(process.argv[2]);
const start = performance.now();
const module = await import(pathToFileURL(target).href);
const importMs = performance.now() - start;
if (typeof module.handler !== 'function') throw new Error(`${target}: no handler export`);
// performance.now() counts from the process's start (time origin).
process.stdout.write(`${JSON.stringify({ importMs, processToReadyMs: performance.now(), rssBytes: process.memoryUsage.rss() })}\n`);
