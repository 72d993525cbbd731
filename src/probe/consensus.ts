/**
 * The consensus rule for one address family (documented in docs/protocol.md):
 *  - every successful answer names the same address → that address, consistent = true;
 *  - they disagree → ip = the address a strict majority of successful answers named, else null,
 *    and consistent = false (the server treats disagreement as evidence, never as green);
 *  - no successful answer → ip = null, consistent = true (unknown, not disagreement).
 * Every answer, failed or not, is kept so the verdict can show its evidence.
 */
import type { IpFamilyResult, ProviderAnswer } from "../protocol/report.ts";

export function consensus(answers: ProviderAnswer[]): IpFamilyResult {
  const counts = new Map<string, number>();
  for (const a of answers) if (a.ip) counts.set(a.ip, (counts.get(a.ip) ?? 0) + 1);
  const total = [...counts.values()].reduce((s, n) => s + n, 0);
  if (counts.size <= 1) return { ip: [...counts.keys()][0] ?? null, consistent: true, answers };
  let ip: string | null = null;
  for (const [addr, n] of counts) if (n * 2 > total) ip = addr;
  return { ip, consistent: false, answers };
}
