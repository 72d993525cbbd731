import { expect, test } from "bun:test";
import { accumulate, addTotals, emptyTotals } from "./fold.ts";

test("accumulate adds and subtracts every field of Totals (none forgotten when one is added)", () => {
  const ones = Object.fromEntries(Object.keys(emptyTotals()).map((k, i) => [k, i + 1])) as ReturnType<
    typeof emptyTotals
  >;
  expect(accumulate(emptyTotals(), ones)).toEqual(addTotals(emptyTotals(), ones));
  expect(accumulate(accumulate(emptyTotals(), ones), ones, -1)).toEqual(emptyTotals());
});
