import { expect, test } from "bun:test";
import type { Totals } from "../store/index.ts";
import { accumulate, addTotals, emptyTotals } from "./fold.ts";

test("accumulate adds and subtracts every field of Totals (none forgotten when one is added)", () => {
  const ones = Object.fromEntries(Object.keys(emptyTotals()).map((k, i) => [k, i + 1])) as unknown as Totals;
  expect(accumulate(emptyTotals(), ones)).toEqual(addTotals(emptyTotals(), ones));
  expect(accumulate(accumulate(emptyTotals(), ones), ones, -1)).toEqual(emptyTotals());
});
