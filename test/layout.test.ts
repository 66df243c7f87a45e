// The code's layout, checked: (1) SQL lives in server/store/ only: no file elsewhere in
// server/ runs a postgres.js tagged template (sql`…`, tx`…`, db`…`, ctx.sql<T>`…`) or
// `.unsafe(…)`; (2) no import cycle in server/, machines/, shared/ or scripts/ (madge).
// Both read the source with a parser, not a regex over text, so a comment or a string
// that mentions sql`…` is not a query, and a query whose type argument spans lines is.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MADGE_DEADLINE_MS = 60_000;

/** A postgres.js client or transaction by the names this code base gives them: sql, tx, db (ctx.sql, this.db, …). */
const QUERY_TAG = /(?:sql|tx|db)$/i;

/** Raw SQL in one source text: each hit as "line: code". */
function rawSql(fileName: string, text: string): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const hits: string[] = [];
  const hit = (node: ts.Node) => {
    const { line } = source.getLineAndCharacterOfPosition(node.getStart(source));
    hits.push(`${line + 1}: ${node.getText(source).split('\n')[0]}`);
  };
  const nameOf = (e: ts.Expression) => (ts.isIdentifier(e) ? e.text : ts.isPropertyAccessExpression(e) ? e.name.text : '');
  const visit = (node: ts.Node): void => {
    if (ts.isTaggedTemplateExpression(node) && QUERY_TAG.test(nameOf(node.tag))) hit(node);
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === 'unsafe') hit(node);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return hits;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

test('the raw-SQL detector finds queries, and only queries', () => {
  const found = (code: string) => rawSql('sample.ts', code).length;
  assert.is(found('await sql`select 1`;'), 1);
  assert.is(found('await ctx.sql<{ id: string; n: number }[]>`select id, n from t`;'), 1);
  assert.is(found('const [r] = await tx<{\n  a: Array<string>;\n}[]>`select a from t`;'), 1, 'a type argument over several lines');
  assert.is(found('await this.db`delete from t`;'), 1);
  assert.is(found('await tx.unsafe("create schema x");'), 1);
  assert.is(found('await tx`update t set ${cond ? tx`a = 1` : tx``}`;'), 3, 'nested fragments each count');
  assert.is(found('// run it with sql`select 1` in a transaction\nconst s = "tx`no`";'), 0, 'comments and strings are not queries');
  assert.is(found('const LUA = `return redis.call("GET", KEYS[1])`;\nconst t = String.raw`a\\b`;\nlog(`in the db`);'), 0);
});

test('no raw SQL in server/ outside server/store/', () => {
  const store = join(ROOT, 'server', 'store') + sep;
  const files = tsFiles(join(ROOT, 'server')).filter((f) => !f.startsWith(store));
  assert.ok(files.length > 50, `walked ${files.length} files`);
  const offenders = files.flatMap((f) => rawSql(f, readFileSync(f, 'utf8')).map((h) => `${relative(ROOT, f)}:${h}`));
  assert.equal(offenders, [], `SQL belongs in server/store/:\n  ${offenders.join('\n  ')}`);
});

interface MadgeResult {
  obj(): Record<string, string[]>;
  circular(): string[][];
}
type Madge = (paths: string[], config: { baseDir: string; fileExtensions: string[]; tsConfig: string }) => Promise<MadgeResult>;
// madge ships no type declarations: loaded through require with the two calls used here typed.
const madge = createRequire(import.meta.url)('madge') as Madge;

test('no import cycles in server, machines, shared and scripts', async () => {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`madge took longer than ${MADGE_DEADLINE_MS} ms`)), MADGE_DEADLINE_MS);
  });
  try {
    const graph = await Promise.race([
      madge(['server', 'machines', 'shared', 'scripts'].map((d) => join(ROOT, d)), {
        baseDir: ROOT, fileExtensions: ['ts'], tsConfig: join(ROOT, 'tsconfig.json'),
      }),
      late,
    ]);
    // The graph is real: many files, and the imports of app.ts resolved.
    const edges = graph.obj();
    assert.ok(Object.keys(edges).length > 100, `madge saw ${Object.keys(edges).length} files`);
    assert.ok(edges['server/app.ts']?.includes('server/outbox/outbox.relay.ts'), 'app.ts imports resolved');
    const cycles = graph.circular();
    assert.equal(cycles, [], `import cycles:\n  ${cycles.map((c) => c.join(' > ')).join('\n  ')}`);
  } finally {
    clearTimeout(timer);
  }
});

test.run();
