/**
 * The documentation names only what the repository has: every repository path that README.md and
 * docs/*.md put in backticks, in a fenced block or in a link exists (a glob must match at least one
 * file), every link to a heading (`page.md#heading`, `#heading`) finds it, and every `npm run X`,
 * `npm start` and `npm test` they name is a script in package.json.
 * Files move while the code is reorganised; a failure names the page, the line and the missing
 * path, so whoever moved the file can fix the reference.
 */
import { existsSync, globSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * The top-level folders whose paths the pages may name. A token is taken for a repository path
 * only when it starts with one of these, so object keys (`topics/orders/…`), placeholders
 * (`DIR/s3/…`) and build output (`dist/`, `bench-results/`) are never checked.
 */
const ROOTS = ['lib', 'infra', 'docs', 'examples', 'functions', 'local', 'testkit', 'bench', 'test', 'scripts', 'bin', '.ci'] as const;

/** A path token: an optional `./`, a root folder, then path characters (`*` for globs). */
const PATH_TOKEN = new RegExp(`(?<![\\w./@-])(?:\\./)?((?:${ROOTS.map((r) => r.replace('.', '\\.')).join('|')})/[\\w.*/+-]*)`, 'g');

/** `npm run NAME`, `npm start`, `npm test` (npm's own commands such as `npm ci` are not scripts). */
const NPM_SCRIPT = /\bnpm (?:run(?:-script)? ([\w:.-]*\w)|(start|test)\b)/g;

/** What a page refers to, and where. */
interface Reference {
  readonly line: number;
  readonly kind: 'path' | 'link' | 'script';
  readonly target: string;
}

/**
 * The references of one Markdown text: path tokens inside inline code spans and fenced blocks,
 * relative link targets, and npm scripts named anywhere in code. Line numbers are 1-based.
 */
function referencesOf(markdown: string): Reference[] {
  const found: Reference[] = [];
  const lines = markdown.split('\n');
  let fenced = false;
  // An inline code span may wrap onto the next line: its text is carried until the closing backtick.
  let span: { text: string; line: number } | undefined;
  const scanCode = (text: string, line: number) => {
    for (const match of text.matchAll(PATH_TOKEN)) found.push({ line, kind: 'path', target: trimPath(match[1]!) });
    for (const match of text.matchAll(NPM_SCRIPT)) found.push({ line, kind: 'script', target: (match[1] ?? match[2])! });
  };
  lines.forEach((text, index) => {
    const line = index + 1;
    if (/^\s*(```|~~~)/.test(text)) {
      fenced = !fenced;
      return;
    }
    if (fenced) {
      scanCode(text, line);
      return;
    }
    const parts = text.split('`');
    parts.forEach((part, i) => {
      if (i > 0) {
        // Each backtick opens or closes a span.
        if (span) {
          scanCode(span.text, span.line);
          span = undefined;
        } else {
          span = { text: '', line };
        }
      }
      if (span) {
        span.text += (span.text === '' ? '' : ' ') + part;
        return;
      }
      for (const match of part.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = match[1]!;
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
        found.push({ line, kind: 'link', target });
      }
    });
  });
  if (span) scanCode(span.text, span.line);
  return found;
}

/** Drops what ends a path in prose: punctuation, and the `+` of `…+g{generation}` style text. */
function trimPath(path: string): string {
  return path.replace(/[.,:;+]+$/, '');
}

/**
 * The anchors of a page's headings as GitHub makes them: lower case, punctuation dropped, each
 * space a hyphen, `-1`, `-2`, … for repeats. Lines inside fenced blocks are not headings.
 */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  let fenced = false;
  for (const text of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(text)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (!heading) continue;
    const slug = heading[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    let anchor = slug;
    for (let n = 1; anchors.has(anchor); n++) anchor = `${slug}-${n}`;
    anchors.add(anchor);
  }
  return anchors;
}

/** Whether a repository path (relative to the root, maybe a glob) names something that exists. */
function existsInRepository(path: string): boolean {
  if (path.includes('*')) return globSync(path, { cwd: ROOT }).length > 0;
  return existsSync(join(ROOT, path));
}

/** The problems of one page: `page:line: what is missing`. */
function problemsOf(
  page: string,
  markdown: string,
  scripts: Readonly<Record<string, string>>,
  read: (path: string) => string = (path) => readFileSync(join(ROOT, path), 'utf8'),
): string[] {
  const problems: string[] = [];
  for (const ref of referencesOf(markdown)) {
    const where = `${page}:${ref.line}`;
    if (ref.kind === 'script') {
      if (!(ref.target in scripts)) problems.push(`${where}: npm script "${ref.target}" is not in package.json scripts`);
    } else if (ref.kind === 'link') {
      const [file = '', anchor] = ref.target.split('#');
      const path = file === '' ? page : normalize(relative(ROOT, join(ROOT, dirname(page), file)));
      if (path.startsWith('..') || (path !== page && !existsInRepository(path))) {
        problems.push(`${where}: link target ${ref.target} (${path}) does not exist`);
      } else if (anchor !== undefined && path.endsWith('.md') && !anchorsOf(path === page ? markdown : read(path)).has(anchor)) {
        problems.push(`${where}: link target ${ref.target}: ${path} has no heading with the anchor #${anchor}`);
      }
    } else if (!existsInRepository(ref.target)) {
      problems.push(`${where}: ${ref.target} does not exist in the repository`);
    }
  }
  return problems;
}

const SCRIPTS = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

describe('references in the documentation', () => {
  it('finds paths, links and scripts, and reports each missing one with its page and line', () => {
    const markdown = [
      '# Top',
      'The sink is in `lib/sink/` and its `lib/no-such-file.ts`; see [the protocol](protocol.md#pieces) and',
      '[gone](missing.md#part), or [AWS](https://aws.amazon.com/) and [above](#top), [below](#nowhere).',
      '```sh',
      'npm run no-such-script -- --help   # ./local/none.ts',
      'npm start',
      '```',
      'A span that wraps: `npm run',
      'build` and `test/unit/*.test.ts`, `test/unit/*.nothing.ts`; [steps](protocol.md#no-such-step).',
      '```sh',
      '# not a heading',
      '```',
      '[not a heading](#not-a-heading)',
    ].join('\n');
    const read = (path: string) => (path === 'docs/protocol.md' ? '# The protocol\n\n## Pieces\n' : '');
    expect(problemsOf('docs/example.md', markdown, { start: 'x', build: 'y' }, read)).toEqual([
      'docs/example.md:2: lib/no-such-file.ts does not exist in the repository',
      'docs/example.md:3: link target missing.md#part (docs/missing.md) does not exist',
      'docs/example.md:3: link target #nowhere: docs/example.md has no heading with the anchor #nowhere',
      'docs/example.md:5: local/none.ts does not exist in the repository',
      'docs/example.md:5: npm script "no-such-script" is not in package.json scripts',
      'docs/example.md:9: test/unit/*.nothing.ts does not exist in the repository',
      'docs/example.md:9: link target protocol.md#no-such-step: docs/protocol.md has no heading with the anchor #no-such-step',
      'docs/example.md:13: link target #not-a-heading: docs/example.md has no heading with the anchor #not-a-heading',
    ]);
  });

  it.each(PAGES)('%s names only paths and npm scripts the repository has', (page) => {
    const problems = problemsOf(page, readFileSync(join(ROOT, page), 'utf8'), SCRIPTS);
    expect(problems, `${page} refers to what the repository does not have:\n${problems.join('\n')}`).toEqual([]);
  });
});
