// Adds up what the runners reported (.cache/*) and prints `N passed, N failed`; exits 1 on any
// failure or when a runner left no report.
import { existsSync, readFileSync } from "node:fs";

let passed = 0;
let failed = 0;
const lines = [];
const missing = (what) => {
  failed++;
  lines.push(`${what}: no report (the runner did not finish)`);
};

if (existsSync(".cache/checks.txt")) {
  for (const line of readFileSync(".cache/checks.txt", "utf8").split("\n").filter(Boolean)) {
    if (line.startsWith("pass ")) passed++;
    else failed++;
  }
} else missing("checks");

if (existsSync(".cache/vitest-report.json")) {
  const r = JSON.parse(readFileSync(".cache/vitest-report.json", "utf8"));
  passed += r.numPassedTests;
  failed += r.numFailedTests + (r.numTotalTestSuites > 0 && r.success === false && r.numFailedTests === 0 ? 1 : 0);
  lines.push(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
} else missing("vitest");

if (existsSync(".cache/pytest.xml")) {
  const xml = readFileSync(".cache/pytest.xml", "utf8");
  const m = /<testsuite [^>]*errors="(\d+)" failures="(\d+)" skipped="(\d+)" tests="(\d+)"/.exec(xml);
  if (m) {
    const [errors, failures, skipped, tests] = m.slice(1).map(Number);
    passed += tests - errors - failures - skipped;
    failed += errors + failures;
    lines.push(`pytest: ${tests - errors - failures - skipped} passed, ${errors + failures} failed`);
  } else missing("pytest");
} else missing("pytest");

if (existsSync(".cache/go-test.json")) {
  let p = 0;
  let f = 0;
  for (const line of readFileSync(".cache/go-test.json", "utf8").split("\n")) {
    if (!line.startsWith("{")) continue;
    const e = JSON.parse(line);
    if (!e.Test) {
      if (e.Action === "fail") f++; // a package that failed to build or run
      continue;
    }
    if (e.Action === "pass") p++;
    if (e.Action === "fail") f++;
  }
  if (p + f === 0) missing("go test");
  passed += p;
  failed += f;
  lines.push(`go test: ${p} passed, ${f} failed`);
} else missing("go test");

for (const l of lines) console.log(l);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
