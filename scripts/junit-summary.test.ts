import { expect, test } from "bun:test";
import { formatSummary, summarizeJUnit } from "./junit-summary.ts";

const REPORT = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="bun test" tests="6" failures="2" skipped="1">
  <testsuite name="a.test.ts" file="a.test.ts">
    <testsuite name="group &gt; nested" file="a.test.ts">
      <testcase name="passes" classname="group" time="0.1" />
      <testcase name="has a > in its name" classname="group" time="0.1"/>
      <testcase name="fails &gt; loudly" classname="group" file="a.test.ts" time="0.1">
        <failure type="AssertionError" message="expected 1 &lt; 0" />
      </testcase>
      <testcase name="errors" classname="group"><error message="boom"></error></testcase>
      <testcase name="skipped" classname="group"><skipped /></testcase>
      <testcase name="passes with output" classname="group"><system-out>hi</system-out></testcase>
    </testsuite>
  </testsuite>
</testsuites>`;

test("testcases are counted by their failure, error and skipped children", () => {
  expect(summarizeJUnit(REPORT)).toEqual({
    passed: 3,
    failed: 2,
    skipped: 1,
    failures: ["a.test.ts > group > fails > loudly", "group > errors"],
  });
});

test("the closing line mentions skipped tests only when there are some", () => {
  expect(formatSummary({ passed: 3, failed: 2, skipped: 1, failures: [] })).toBe(
    "3 passed, 2 failed, 1 skipped",
  );
  expect(formatSummary({ passed: 7, failed: 0, skipped: 0, failures: [] })).toBe("7 passed, 0 failed");
});

test("an empty report counts nothing", () => {
  expect(summarizeJUnit('<testsuites name="bun test" tests="0"></testsuites>')).toEqual({
    passed: 0,
    failed: 0,
    skipped: 0,
    failures: [],
  });
});
