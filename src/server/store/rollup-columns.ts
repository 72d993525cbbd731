/**
 * The rollup tables' totals columns (client_days, fleet_days), shared by both engines so their
 * statements and row mappers agree with each other and with migration 12.
 */
import type { RollupCarry, Totals } from "./types.ts";

/** Totals fields and their columns, in one list so every statement agrees. */
export const TOTALS_COLUMNS: readonly [keyof Totals, string][] = [
  ["knownMs", "known_ms"],
  ["upMs", "up_ms"],
  ["greenMs", "green_ms"],
  ["yellowMs", "yellow_ms"],
  ["redMs", "red_ms"],
  ["greyMs", "grey_ms"],
  ["changes", "changes"],
  ["bypassN", "bypass_n"],
  ["bypassMs", "bypass_ms"],
  ["dnsN", "dns_n"],
  ["dnsMs", "dns_ms"],
  ["ipv6N", "ipv6_n"],
  ["ipv6Ms", "ipv6_ms"],
  ["exitN", "exit_n"],
  ["exitMs", "exit_ms"],
  ["offlineN", "offline_n"],
  ["offlineMs", "offline_ms"],
  ["recoveredN", "recovered_n"],
  ["recoveredMs", "recovered_ms"],
];

/** A row's totals (PostgreSQL returns BIGINT columns as strings, SQLite as numbers). */
export function totalsOf(row: Record<string, unknown>): Totals {
  const t = {} as Totals;
  for (const [field, column] of TOTALS_COLUMNS) t[field] = Number(row[column]);
  return t;
}

/** The carry of a day without one: nothing red, no incident open. */
export const NO_CARRY: RollupCarry = { redSince: null, open: {} };
