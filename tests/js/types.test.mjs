// The package's hand-written declarations (js/index.d.ts) are checked against the package: a
// TypeScript program using every export type-checks (tests/types/usage.ts, with `@ts-expect-error`
// lines that must stay errors), the declared values are exactly the values js/index.js exports,
// and the program mentions every declared name, so a new export cannot go unchecked.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import * as runtime from '../../js/index.js';
import { ROOT } from './fixtures.mjs';

/** The names index.d.ts exports: values (classes, functions, consts) and types. */
function declared() {
  const path = join(ROOT, 'js/index.d.ts');
  const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.ES2022, true);
  const values = new Set();
  const types = new Set();
  const exported = (node) => node.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
  for (const node of source.statements) {
    if (!exported(node)) continue;
    if (ts.isClassDeclaration(node) || ts.isFunctionDeclaration(node)) values.add(node.name.text);
    else if (ts.isVariableStatement(node)) for (const d of node.declarationList.declarations) values.add(d.name.text);
    else if (ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)) types.add(node.name.text);
  }
  return { values, types };
}

test('the declarations type-check a program that uses every export', () => {
  try {
    execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(ROOT, 'tests/types')], { encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    assert.fail(`tsc -p tests/types failed:\n${e.stdout}${e.stderr}`);
  }
});

test('the declared values are exactly the values the package exports', () => {
  const { values } = declared();
  const exported = new Set(Object.keys(runtime));
  const undeclared = [...exported].filter((n) => !values.has(n));
  const missing = [...values].filter((n) => !exported.has(n));
  assert.deepEqual(undeclared, [], `exported by js/index.js but not declared in js/index.d.ts: ${undeclared.join(', ')}`);
  assert.deepEqual(missing, [], `declared in js/index.d.ts but not exported by js/index.js: ${missing.join(', ')}`);
});

test('the typed program names every declared export, values and types', () => {
  const { values, types } = declared();
  const usage = readFileSync(join(ROOT, 'tests/types/usage.ts'), 'utf8');
  const unused = [...values, ...types].filter((n) => !new RegExp(`\\b${n}\\b`).test(usage));
  assert.deepEqual(unused, [], `tests/types/usage.ts does not use: ${unused.join(', ')}`);
});
