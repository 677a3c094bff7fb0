/**
 * The folders of `lib/` are the architecture: this test parses every import in `lib/**` (static,
 * `export … from`, dynamic `import()`) and holds them to the table below, so that the layout stays
 * true as the code grows. The README's "Layout" section describes the same folders. It also holds
 * the top-level folders around `lib/` to their direction: the product never imports the test kit,
 * local mode, the benchmark or the tests, and the test kit (`testkit/`) rests on `lib/` alone.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const LIB = join(ROOT, 'lib');

/**
 * Which `lib/` folders each folder may import (besides itself). `root` is the files directly in
 * `lib/`: the package's index and the command line's entry, which dispatches to `ops` or
 * `standalone`. Read from the bottom up: everything rests on `core`.
 */
const ALLOWED = {
  core: [],
  layout: ['core'],
  format: ['core'],
  delivery: ['core', 'format', 'layout'],
  kafka: ['core'],
  config: ['core', 'format', 'layout', 'delivery', 'kafka'],
  sink: ['core', 'format', 'layout', 'delivery', 'config'],
  ledger: ['core'],
  aws: ['core', 'config', 'ledger', 'format'],
  manifest: ['core', 'layout', 'ledger', 'aws'],
  // The compactor's pure core (docs/compaction.md): adapters and front ends will import it, never the reverse.
  compaction: ['core', 'layout', 'format'],
  // The two front ends rest on everything below them and never on each other.
  ops: ['core', 'layout', 'format', 'delivery', 'kafka', 'config', 'sink', 'ledger', 'aws', 'manifest'],
  standalone: ['core', 'layout', 'format', 'delivery', 'kafka', 'config', 'sink', 'ledger', 'aws', 'manifest'],
  root: ['core', 'layout', 'format', 'delivery', 'kafka', 'config', 'sink', 'ledger', 'aws', 'manifest', 'ops', 'standalone'],
} as const satisfies Record<string, readonly string[]>;

type Folder = keyof typeof ALLOWED;

/** The only folders that may talk to AWS or Kafka through their SDKs. */
const SDK_OWNERS = {
  '@aws-sdk/': ['aws'],
  '@platformatic/kafka': ['kafka', 'standalone'],
  'aws-msk-iam-sasl-signer-js': ['kafka'],
} as const satisfies Record<string, readonly Folder[]>;

/** One import of one `lib/` file. */
interface Import {
  readonly file: string;
  readonly specifier: string;
  readonly line: number;
}

/** Every `.ts` file under `dir`, as paths relative to the repository root. */
function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)).split('\\').join('/'))
    .sort();
}

/** Parses one file: its import specifiers and the lines where it reads `process.env`. */
function scan(file: string): { imports: Import[]; envReads: number[] } {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const imports: Import[] = [];
  const envReads: number[] = [];
  const lineOf = (node: ts.Node) => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      imports.push({ file, specifier: node.moduleSpecifier.text, line: lineOf(node) });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [argument] = node.arguments;
      // A computed specifier would escape this test: there must be none.
      imports.push({ file, specifier: argument && ts.isStringLiteralLike(argument) ? argument.text : '<computed>', line: lineOf(node) });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      imports.push({ file, specifier: node.argument.literal.text, line: lineOf(node) });
    } else if (
      ts.isPropertyAccessExpression(node) &&
      node.name.text === 'env' &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === 'process'
    ) {
      envReads.push(lineOf(node));
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { imports, envReads };
}

/** The folder of a `lib/` path (`root` for the files directly in `lib/`), or undefined outside `lib/`. */
function folderOf(path: string): string | undefined {
  const parts = path.split('/');
  if (parts[0] !== 'lib') return undefined;
  return parts.length === 2 ? 'root' : parts[1];
}

const FILES = tsFiles(LIB);
const SCANNED = FILES.map(scan);
const IMPORTS = SCANNED.flatMap((scanned) => scanned.imports);
const RELATIVE = IMPORTS.filter((entry) => entry.specifier.startsWith('.'));
const where = (entry: Import) => `${entry.file}:${entry.line} imports ${entry.specifier}`;

describe('lib/ layout: folder-to-folder imports', () => {
  it('finds the folders and imports it checks (the scan itself works)', () => {
    const folders = new Set(FILES.map(folderOf));
    expect([...folders].sort()).toEqual(Object.keys(ALLOWED).sort());
    expect(RELATIVE.length).toBeGreaterThan(100);
    // The dispatch's dynamic imports are seen too.
    expect(IMPORTS.some((entry) => entry.file === 'lib/cli.ts' && entry.specifier === './standalone/cli.ts')).toBe(true);
  });

  it('every folder in lib/ is in the table (a new folder is placed deliberately)', () => {
    const unknown = FILES.filter((file) => !Object.hasOwn(ALLOWED, folderOf(file) ?? ''));
    expect(unknown).toEqual([]);
  });

  it('each folder imports only the folders the table allows', () => {
    const wrong = RELATIVE.flatMap((entry) => {
      const from = folderOf(entry.file) as Folder;
      const target = posix.normalize(posix.join(posix.dirname(entry.file), entry.specifier));
      const to = folderOf(target);
      if (to === undefined) return [`${where(entry)}: outside lib/ (${target})`];
      if (to === from || (ALLOWED[from] as readonly string[]).includes(to)) return [];
      return [`${where(entry)}: ${from} may not depend on ${to}`];
    });
    expect(wrong).toEqual([]);
  });

  it('ops and standalone do not import each other; only the entry module knows both', () => {
    const crossing = RELATIVE.filter((entry) => {
      const from = folderOf(entry.file);
      const to = folderOf(posix.normalize(posix.join(posix.dirname(entry.file), entry.specifier)));
      return (from === 'ops' && to === 'standalone') || (from === 'standalone' && to === 'ops');
    });
    expect(crossing.map(where)).toEqual([]);
  });

  it('no module specifier is computed', () => {
    expect(IMPORTS.filter((entry) => entry.specifier === '<computed>').map(where)).toEqual([]);
  });

  it('only the adapter folders import the AWS SDK, the Kafka client and the MSK IAM signer', () => {
    const wrong = IMPORTS.flatMap((entry) => {
      const folder = folderOf(entry.file) as Folder;
      for (const [prefix, owners] of Object.entries(SDK_OWNERS)) {
        if (entry.specifier.startsWith(prefix) && !(owners as readonly Folder[]).includes(folder)) {
          return [`${where(entry)}: only ${owners.join(', ')} may`];
        }
      }
      return [];
    });
    expect(wrong).toEqual([]);
  });

  it('nothing in lib/ reads process.env (the entry points pass the environment in)', () => {
    const reads = SCANNED.flatMap((scanned, index) => scanned.envReads.map((line) => `${FILES[index]}:${line}`));
    expect(reads).toEqual([]);
  });
});

/**
 * Top-level folders and the top-level folders none of their files may import. `lib/` is the
 * product; `testkit/` (in-memory ports, the Kafka record, event and mapping model, the read-back
 * checker, the Lambda context) serves local mode, the benchmark and the tests, so it may not lean
 * on any of them.
 */
const FORBIDDEN_TOP = {
  lib: ['testkit', 'local', 'bench', 'test'],
  testkit: ['local', 'bench', 'test'],
  local: ['bench', 'test'],
  bench: ['test'],
} as const satisfies Record<string, readonly string[]>;

describe('top-level folders: lib/ and testkit/ depend one way', () => {
  const scanned = Object.keys(FORBIDDEN_TOP).flatMap((top) => tsFiles(join(ROOT, top)).flatMap((file) => scan(file).imports));
  const relative = scanned.filter((entry) => entry.specifier.startsWith('.'));
  const topOf = (entry: Import): string => posix.normalize(posix.join(posix.dirname(entry.file), entry.specifier)).split('/')[0]!;

  it('scans every folder it rules on, and sees imports between them', () => {
    for (const top of Object.keys(FORBIDDEN_TOP)) expect(relative.some((entry) => entry.file.startsWith(`${top}/`))).toBe(true);
    // local mode and the benchmark do use the kit: the scan resolves specifiers across folders.
    expect(relative.some((entry) => entry.file.startsWith('local/') && topOf(entry) === 'testkit')).toBe(true);
    expect(relative.some((entry) => entry.file.startsWith('bench/') && topOf(entry) === 'testkit')).toBe(true);
  });

  it('no folder imports a folder it must not depend on', () => {
    const wrong = relative.flatMap((entry) => {
      const from = entry.file.split('/')[0] as keyof typeof FORBIDDEN_TOP;
      const to = topOf(entry);
      return (FORBIDDEN_TOP[from] as readonly string[]).includes(to) ? [`${where(entry)}: ${from}/ may not depend on ${to}/`] : [];
    });
    expect(wrong).toEqual([]);
  });
});
