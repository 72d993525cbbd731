/**
 * Routing filters of a channel URL: which notifications a channel target wants.
 *   ?only=KIND,KIND   event kinds, with `*` wildcards (`*.started`, `bypass.*`, `reminder`, `digest`)
 *   ?min=red|yellow|info   the least severity; a resolved message counts as the problem it ends
 *   ?clients=NAME,NAME     only these clients
 *   ?tags=TAG,TAG          only clients carrying one of these tags (a client's settings; case-insensitive)
 * Server-wide notifications (uplink, server start, burst digests) have no client: ?clients and
 * ?tags do not hold them back. Pure: parsing returns a problem sentence instead of throwing.
 */
import { EVENT_KINDS, EVENT_SEVERITY, type EventKind, type EventSeverity } from "../../protocol/events.ts";
import { TAG } from "../monitor/settings.ts";
import { RESOLVES } from "./policy.ts";
import type { NotificationKind } from "./types.ts";

/** Severities ?min accepts, weakest first. */
export const MIN_LEVELS = ["info", "yellow", "red"] as const;
export type MinLevel = (typeof MIN_LEVELS)[number];

export interface RouteFilter {
  only: string[] | null;
  min: MinLevel | null;
  clients: string[] | null;
  tags: string[] | null;
}

export const NO_FILTER: RouteFilter = { only: null, min: null, clients: null, tags: null };

/** What the notifier knows about a notification when it decides which lanes get it. */
export interface RouteCandidate {
  kind: NotificationKind;
  /** a reminder's (or digest member's) underlying event kind */
  about?: EventKind;
  severity: EventSeverity;
  /** the client as stored when the decision is made: its tags (settings) decide ?tags= */
  client: { id: string; name: string; tags: readonly string[] } | null;
}

const ROUTABLE_KINDS: readonly string[] = [...EVENT_KINDS, "reminder", "digest", "test", "report"];
const LEVEL_RANK: Record<EventSeverity, number> = { info: 0, green: 0, yellow: 1, red: 2 };

function globToRegExp(pattern: string): RegExp {
  const body = pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${body.join(".*")}$`);
}

const list = (v: string) =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/** Reads the filter parameters from `params` (and deletes them); returns a problem sentence on bad input. */
export function takeRouteFilter(params: URLSearchParams): RouteFilter | string {
  const filter: RouteFilter = { ...NO_FILTER };
  const only = params.get("only");
  if (only !== null) {
    const kinds = list(only);
    if (!kinds.length) return "?only= names no event kind";
    for (const k of kinds) {
      const re = globToRegExp(k);
      if (!ROUTABLE_KINDS.some((known) => re.test(known)))
        return `?only=${k} matches no event kind (e.g. bypass.started, *.started, client.*)`;
    }
    filter.only = kinds;
  }
  const min = params.get("min");
  if (min !== null) {
    if (!(MIN_LEVELS as readonly string[]).includes(min)) return `?min=${min} must be red, yellow or info`;
    filter.min = min as MinLevel;
  }
  const clients = params.get("clients");
  if (clients !== null) {
    filter.clients = list(clients);
    if (!filter.clients.length) return "?clients= names no client";
  }
  const tags = params.get("tags");
  if (tags !== null) {
    filter.tags = list(tags.toLowerCase());
    if (!filter.tags.length) return "?tags= names no tag";
    const bad = filter.tags.find((t) => !TAG.test(t));
    if (bad !== undefined) return `?tags=${bad} is not a tag (1-64 letters, digits, _ . -)`;
  }
  for (const key of ["only", "min", "clients", "tags"]) params.delete(key);
  return filter;
}

/** A resolved kind weighs as much as the worst problem it ends (so ?min=red still hears "bypass resolved"). */
function weight(c: RouteCandidate): number {
  const kind = (c.about ?? c.kind) as EventKind;
  const ends = RESOLVES[kind];
  if (c.severity === "green" && ends) return Math.max(...ends.map((k) => LEVEL_RANK[EVENT_SEVERITY[k]]));
  return LEVEL_RANK[c.severity];
}

export function routeMatches(filter: RouteFilter, c: RouteCandidate): boolean {
  if (filter.only) {
    const names = c.about ? [c.kind, c.about] : [c.kind];
    if (!filter.only.some((p) => names.some((n) => globToRegExp(p).test(n)))) return false;
  }
  if (filter.min && weight(c) < LEVEL_RANK[filter.min]) return false;
  if (c.client && filter.clients && !filter.clients.includes(c.client.name)) return false;
  if (c.client && filter.tags) {
    const has = c.client.tags;
    if (!filter.tags.some((t) => has.includes(t))) return false;
  }
  return true;
}

export const isUnfiltered = (f: RouteFilter) => !f.only && !f.min && !f.clients && !f.tags;
