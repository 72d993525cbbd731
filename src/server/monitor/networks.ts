/**
 * What a client has learned to be normal: the exit networks (AS numbers) and countries it used
 * over the last 30 days, weighted by time, from its history (the store sums each exit address's
 * time; here the addresses become networks). Pure: the lookup and home identity come in.
 */

import type { GeoLookup } from "../geo/types.ts";
import type { ExitTime } from "../store/index.ts";
import { matchHome } from "./home.ts";
import type { HomeIdentity } from "./types.ts";

export const LEARN_WINDOW_MS = 30 * 86_400_000;

export interface LearnedNetwork {
  asn: number;
  /** the organisation as the IP database names it (the first one seen for this AS) */
  org: string | null;
  ms: number;
  /** of the time with a known AS, 0..1 */
  share: number;
}

export interface LearnedCountry {
  country: string;
  ms: number;
  share: number;
}

/** The learned set of one client: largest share first. */
export interface NetworkProfile {
  window_ms: number;
  asns: LearnedNetwork[];
  countries: LearnedCountry[];
}

/**
 * Exit times → networks and countries. Exits through home (a bypass) are left out: the home line
 * is never something a client should learn to use. Addresses the database knows no AS (or no
 * country) for count for neither list, so the shares are of what is known.
 */
export function learnNetworks(
  times: readonly ExitTime[],
  geo: GeoLookup,
  home: HomeIdentity,
): NetworkProfile {
  const asns = new Map<number, { org: string | null; ms: number }>();
  const countries = new Map<string, number>();
  for (const { ip, ms } of times) {
    const info = geo.lookup(ip);
    if (matchHome(info, home) !== null) continue;
    if (info.asn !== null) {
      const entry = asns.get(info.asn) ?? { org: info.org, ms: 0 };
      entry.ms += ms;
      entry.org ??= info.org;
      asns.set(info.asn, entry);
    }
    if (info.country !== null) {
      const country = info.country.toUpperCase();
      countries.set(country, (countries.get(country) ?? 0) + ms);
    }
  }
  const total = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0);
  const asnTotal = total([...asns.values()].map((e) => e.ms));
  const countryTotal = total(countries.values());
  return {
    window_ms: LEARN_WINDOW_MS,
    asns: [...asns]
      .map(([asn, e]) => ({ asn, org: e.org, ms: e.ms, share: e.ms / asnTotal }))
      .sort((a, b) => b.ms - a.ms || a.asn - b.asn),
    countries: [...countries]
      .map(([country, ms]) => ({ country, ms, share: ms / countryTotal }))
      .sort((a, b) => b.ms - a.ms || a.country.localeCompare(b.country)),
  };
}

/** "96 %"; a share that rounds to nothing is "<1 %", never "0 %". */
export function formatShare(share: number): string {
  const pct = Math.round(share * 100);
  return pct === 0 && share > 0 ? "<1 %" : `${pct} %`;
}

/** "AS39351 31173 Services AB" */
export const networkName = (asn: number, org: string | null): string =>
  org ? `AS${asn} ${org}` : `AS${asn}`;

/** "AS39351 31173 Services AB 96 %, AS212238 4 %" */
export function describeNetworks(profile: NetworkProfile): string {
  return profile.asns.map((n) => `${networkName(n.asn, n.org)} ${formatShare(n.share)}`).join(", ");
}

/**
 * "Lock": the learned set as the client's expectation (settings exit_asns, exit_countries), or
 * null when nothing was learned yet. Countries stay unlocked when the database named none.
 */
export function lockOf(
  profile: NetworkProfile,
): { exit_asns: number[]; exit_countries: string[] | null } | null {
  if (profile.asns.length === 0) return null;
  return {
    exit_asns: profile.asns.map((n) => n.asn).sort((a, b) => a - b),
    exit_countries: profile.countries.length ? profile.countries.map((c) => c.country).sort() : null,
  };
}
