/**
 * Reads bun's JUnit report and prints the closing line CI looks for:
 * `N passed, N failed` (then `, N skipped` when some were skipped).
 *
 *   bun scripts/junit-summary.ts test-output/junit.xml [more.xml ...]
 *
 * The first report must exist; later ones (e.g. the lab's) are added when present.
 * A testcase with a <failure> or <error> child failed, one with <skipped> was skipped (todo
 * tests included), any other passed. Failed tests are named one per line just above the closing
 * line (a long CI log is often cut in the middle; its end is what gets read). Exits 1 when a test
 * failed, 2 when the report is missing.
 */
import { existsSync, readFileSync } from "node:fs";

export interface JUnitSummary {
  passed: number;
  failed: number;
  skipped: number;
  /** "file > group > name" of each failed test */
  failures: string[];
}

// Attribute values are quoted and may hold ">", so attributes are matched one by one.
const TESTCASE =
  /<testcase((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(?:\/>|>([\s\S]*?)<\/testcase\s*>)/g;

const attribute = (attrs: string, name: string) => {
  const m = new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`).exec(attrs);
  return unescapeXml(m?.[1] ?? m?.[2] ?? "");
};

const unescapeXml = (s: string) =>
  s.replace(
    /&(lt|gt|quot|apos|amp);/g,
    (_, e: string) => ({ lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" })[e] ?? "",
  );

export function summarizeJUnit(xml: string): JUnitSummary {
  const summary: JUnitSummary = { passed: 0, failed: 0, skipped: 0, failures: [] };
  for (const m of xml.matchAll(TESTCASE)) {
    const attrs = m[1] ?? "";
    const body = m[2] ?? "";
    if (/<(failure|error)\b/.test(body)) {
      summary.failed++;
      summary.failures.push(
        [attribute(attrs, "file"), attribute(attrs, "classname"), attribute(attrs, "name")]
          .filter(Boolean)
          .join(" > "),
      );
    } else if (/<skipped\b/.test(body)) summary.skipped++;
    else summary.passed++;
  }
  return summary;
}

export function formatSummary(s: JUnitSummary): string {
  return `${s.passed} passed, ${s.failed} failed${s.skipped ? `, ${s.skipped} skipped` : ""}`;
}

if (import.meta.main) {
  const [first = "test-output/junit.xml", ...more] = process.argv.slice(2);
  if (!existsSync(first)) {
    console.error(`junit-summary: ${first} does not exist (did the tests run?)`);
    console.log(formatSummary({ passed: 0, failed: 0, skipped: 0, failures: [] }));
    process.exit(2);
  }
  const summary = [first, ...more.filter((p) => existsSync(p))]
    .map((p) => summarizeJUnit(readFileSync(p, "utf8")))
    .reduce((a, b) => ({
      passed: a.passed + b.passed,
      failed: a.failed + b.failed,
      skipped: a.skipped + b.skipped,
      failures: [...a.failures, ...b.failures],
    }));
  for (const name of summary.failures) console.log(`failed: ${name}`);
  console.log(formatSummary(summary));
  process.exit(summary.failed ? 1 : 0);
}
