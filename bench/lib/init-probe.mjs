// Imports one module in a fresh process and prints how long the import took (module
// initialisation: loading, compiling, and running the top level), wall clock and CPU time (all
// threads of the process: V8 compiles and collects garbage on helper threads too). Usage:
//   node [--import tsx] bench/lib/init-probe.mjs FILE
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const target = resolve(process.argv[2]);
const cpuBefore = process.cpuUsage();
const start = performance.now();
const module = await import(pathToFileURL(target).href);
const importMs = performance.now() - start;
const cpu = process.cpuUsage(cpuBefore);
if (typeof module.handler !== 'function') throw new Error(`${target}: no handler export`);
// performance.now() counts from the process's start (time origin).
process.stdout.write(
  `${JSON.stringify({ importMs, importCpuMs: (cpu.user + cpu.system) / 1000, processToReadyMs: performance.now(), rssBytes: process.memoryUsage.rss() })}\n`,
);
