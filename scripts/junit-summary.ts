/**
 * Reads bun's JUnit report and prints the closing line CI looks for:
 * `N passed, N failed` (then `, N skipped` when some were skipped).
 *
 *   bun scripts/junit-summary.ts test-output/junit.xml
 *
 * A testcase with a <failure> or <error> child failed, one with <skipped> was skipped (todo
 * tests included), any other passed. Exits 1 when a test failed, 2 when the report is missing.
 */
import { existsSync, readFileSync } from "node:fs";

export interface JUnitSummary {
  passed: number;
  failed: number;
  skipped: number;
}

// Attribute values are quoted and may hold ">", so attributes are matched one by one.
const TESTCASE =
  /<testcase((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(?:\/>|>([\s\S]*?)<\/testcase\s*>)/g;

export function summarizeJUnit(xml: string): JUnitSummary {
  const summary = { passed: 0, failed: 0, skipped: 0 };
  for (const m of xml.matchAll(TESTCASE)) {
    const body = m[2] ?? "";
    if (/<(failure|error)\b/.test(body)) summary.failed++;
    else if (/<skipped\b/.test(body)) summary.skipped++;
    else summary.passed++;
  }
  return summary;
}

export function formatSummary(s: JUnitSummary): string {
  return `${s.passed} passed, ${s.failed} failed${s.skipped ? `, ${s.skipped} skipped` : ""}`;
}

if (import.meta.main) {
  const path = process.argv[2] ?? "test-output/junit.xml";
  if (!existsSync(path)) {
    console.error(`junit-summary: ${path} does not exist (did the tests run?)`);
    console.log(formatSummary({ passed: 0, failed: 0, skipped: 0 }));
    process.exit(2);
  }
  const summary = summarizeJUnit(readFileSync(path, "utf8"));
  console.log(formatSummary(summary));
  process.exit(summary.failed ? 1 : 0);
}
