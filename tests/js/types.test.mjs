// The package's hand-written declarations (js/index.d.ts) are checked against the package: a
// TypeScript program using every export type-checks (tests/types/usage.ts, with `@ts-expect-error`
// lines that must stay errors), the declared values are exactly the values js/index.js and
// js/node.js export, and the program imports and uses every declared name, so a new export cannot
// go unchecked.
//
// The runtime exports are read by importing the entries where the wasm glue is built (pkg/), and
// from their `export` statements otherwise, so that the check runs before `npm run build` too.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

// Not from fixtures.mjs, which reads the sample data when imported: this test needs only sources.
const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

const DECLARATIONS = join(ROOT, 'js/index.d.ts');
const USAGE = join(ROOT, 'tests/types/usage.ts');
const TSC = join(ROOT, 'node_modules/.bin/tsc');
/** The package's two entries (package.json `exports`): both are typed by js/index.d.ts. */
const ENTRIES = ['js/index.js', 'js/node.js'];
/** What importing the entries loads: the wasm-bindgen glue `npm run build` makes. */
const GLUE = ['pkg/rqvae.js', 'pkg/rqvae_text.js'];

const parse = (path) => ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.ES2022, true);
const hasModifier = (node, kind) => ts.canHaveModifiers(node) && (ts.getModifiers(node)?.some((m) => m.kind === kind) ?? false);
const isExported = (node) => hasModifier(node, ts.SyntaxKind.ExportKeyword);
const where = (node) => {
  const source = node.getSourceFile();
  const { line } = source.getLineAndCharacterOfPosition(node.getStart());
  return `${relative(ROOT, source.fileName)}:${line + 1}`;
};
const list = (names) => [...names].sort().join(', ');

/** The names js/index.d.ts exports: values (classes, functions, consts) and types (interfaces, aliases). */
function declared() {
  const values = new Set();
  const types = new Set();
  for (const node of parse(DECLARATIONS).statements) {
    if (ts.isExportDeclaration(node) || ts.isExportAssignment(node)) {
      // `export { … }`, `export *`, `export =` / `export default`: not told apart into values and
      // types here; declare each export in place instead, or teach this function the form.
      throw new Error(`${where(node)}: an export form this check does not read: ${node.getText().slice(0, 80)}`);
    }
    if (!isExported(node)) continue;
    if (ts.isVariableStatement(node)) {
      for (const d of node.declarationList.declarations) values.add(d.name.getText());
    } else if (ts.isClassDeclaration(node) || ts.isFunctionDeclaration(node) || ts.isEnumDeclaration(node) || ts.isModuleDeclaration(node)) {
      values.add(node.name.getText());
      if (ts.isClassDeclaration(node) || ts.isEnumDeclaration(node)) types.add(node.name.getText());
    } else if (ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)) {
      types.add(node.name.getText());
    } else {
      throw new Error(`${where(node)}: an exported declaration this check does not read (${ts.SyntaxKind[node.kind]})`);
    }
  }
  return { values, types };
}

/**
 * The names a JavaScript module exports, read from its source: `export { a, b as c } from`,
 * `export { … }`, `export const|function|class`, and `export * from` followed into the module it
 * names (js/node.js re-exports js/index.js so).
 */
function exportedStatically(path, seen = new Set()) {
  if (seen.has(path)) return new Set();
  seen.add(path);
  const names = new Set();
  for (const node of parse(path).statements) {
    if (ts.isExportDeclaration(node)) {
      if (node.isTypeOnly) continue;
      if (!node.exportClause) {
        const target = resolve(dirname(path), node.moduleSpecifier.text);
        for (const name of exportedStatically(target, seen)) if (name !== 'default') names.add(name);
      } else if (ts.isNamedExports(node.exportClause)) {
        for (const e of node.exportClause.elements) if (!e.isTypeOnly) names.add(e.name.text);
      } else {
        names.add(node.exportClause.name.text); // export * as ns from '…'
      }
    } else if (ts.isExportAssignment(node)) {
      names.add('default');
    } else if (isExported(node)) {
      if (hasModifier(node, ts.SyntaxKind.DefaultKeyword)) names.add('default');
      else if (ts.isVariableStatement(node)) {
        for (const d of node.declarationList.declarations) {
          if (!ts.isIdentifier(d.name)) throw new Error(`${where(d)}: a destructured export this check does not read`);
          names.add(d.name.text);
        }
      } else names.add(node.name.text);
    }
  }
  return names;
}

const glueBuilt = GLUE.every((p) => existsSync(join(ROOT, p)));

/** Each entry's exported names: imported where pkg/ is built, else read from the sources. */
async function runtimeExports() {
  const byEntry = new Map();
  for (const entry of ENTRIES) {
    const path = join(ROOT, entry);
    const names = glueBuilt ? new Set(Object.keys(await import(pathToFileURL(path).href))) : exportedStatically(path);
    byEntry.set(entry, names);
  }
  return byEntry;
}

test('the declarations type-check a program that uses every export', () => {
  assert.ok(existsSync(TSC), `${relative(ROOT, TSC)} is missing: run npm install (typescript is a devDependency)`);
  const run = spawnSync(TSC, ['-p', join(ROOT, 'tests/types/tsconfig.json'), '--pretty', 'false'], { cwd: ROOT, encoding: 'utf8' });
  if (run.error) throw run.error;
  assert.equal(run.status, 0, `tsc -p tests/types/tsconfig.json exited with ${run.status}:\n${run.stdout}${run.stderr}`);
});

test('the declared values are exactly the values the package exports, in the browser entry and in Node.js', async () => {
  const { values } = declared();
  const problems = [];
  for (const [entry, exported] of await runtimeExports()) {
    const how = glueBuilt ? entry : `${entry} (read from its export statements: pkg/ is not built)`;
    const undeclared = [...exported].filter((n) => !values.has(n));
    const missing = [...values].filter((n) => !exported.has(n));
    if (undeclared.length > 0) problems.push(`${how} exports what js/index.d.ts does not declare: ${list(undeclared)}`);
    if (missing.length > 0) problems.push(`js/index.d.ts declares what ${how} does not export: ${list(missing)}`);
  }
  assert.deepEqual(problems, [], problems.join('\n'));
});

test('the export statements of the entries name what importing them gives', { skip: !glueBuilt && 'pkg/ is not built (npm run build)' }, async () => {
  // Keeps the static reading above honest for the runs where pkg/ is missing.
  for (const entry of ENTRIES) {
    const imported = Object.keys(await import(pathToFileURL(join(ROOT, entry)).href)).sort();
    assert.deepEqual([...exportedStatically(join(ROOT, entry))].sort(), imported, entry);
  }
});

test('the typed program imports and uses every declared export, values and types', () => {
  const { values, types } = declared();
  const source = parse(USAGE);
  /** Exported name → the local name usage.ts imports it as. */
  const imported = new Map();
  const used = new Set();
  const visit = (node) => {
    if (ts.isImportDeclaration(node)) {
      const bindings = node.importClause?.namedBindings;
      if (node.moduleSpecifier.text === 'rqvae' && bindings && ts.isNamedImports(bindings)) {
        for (const e of bindings.elements) imported.set((e.propertyName ?? e.name).text, e.name.text);
      }
      return; // names in an import are not uses
    }
    // A property's name (`x.Encoder`, `{ Encoder: 1 }`) is not a use of the export.
    if (ts.isIdentifier(node)) {
      const { parent } = node;
      const isPropertyName = (ts.isPropertyAccessExpression(parent) || ts.isPropertyAssignment(parent)) && parent.name === node;
      if (!isPropertyName) used.add(node.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  const all = [...new Set([...values, ...types])];
  const notImported = all.filter((n) => !imported.has(n));
  const unused = all.filter((n) => imported.has(n) && !used.has(imported.get(n)));
  const problems = [];
  if (notImported.length > 0) problems.push(`tests/types/usage.ts does not import these exports of js/index.d.ts from 'rqvae': ${list(notImported)}`);
  if (unused.length > 0) problems.push(`tests/types/usage.ts imports but never uses: ${list(unused)}`);
  assert.deepEqual(problems, [], problems.join('\n'));
});
