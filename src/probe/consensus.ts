/**
 * The consensus rule for one address family (documented in docs/protocol.md):
 *  - only answers that could be a public address count: a private, loopback, CGNAT,
 *    link-local or ULA answer (the sentinel server's whoami reached over a LAN or veth) only
 *    says the provider was reached over a private path, so it neither names the exit nor
 *    disagrees with the providers that do;
 *  - every counted answer names the same address → that address, consistent = true;
 *  - they disagree → ip = the address a strict majority of counted answers named, else null,
 *    and consistent = false (the server treats disagreement as evidence, never as green);
 *  - no counted answer → ip = null, consistent = true (unknown, not disagreement).
 * Every answer, failed, private or not, is kept so the verdict can show its evidence.
 */
import { isPublicAddress } from "../protocol/public-address.ts";
import type { IpFamilyResult, ProviderAnswer } from "../protocol/report.ts";

export function consensus(answers: ProviderAnswer[]): IpFamilyResult {
  const counts = new Map<string, number>();
  for (const a of answers) if (a.ip && isPublicAddress(a.ip)) counts.set(a.ip, (counts.get(a.ip) ?? 0) + 1);
  const total = [...counts.values()].reduce((s, n) => s + n, 0);
  if (counts.size <= 1) return { ip: [...counts.keys()][0] ?? null, consistent: true, answers };
  let ip: string | null = null;
  for (const [addr, n] of counts) if (n * 2 > total) ip = addr;
  return { ip, consistent: false, answers };
}
