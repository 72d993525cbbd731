/**
 * A client's settings: what a person may change per client (API PATCH, the dashboard's form,
 * Telegram's /pause and /mute), stored as JSON beside the client. This module is the one place
 * they are validated, with one set of limits, and turned into the policy the judge uses.
 */
import type { FieldError } from "../../protocol/report.ts";
import { DEFAULT_DNS_ALLOW_ASNS } from "./evaluate.ts";
import { DEFAULT_GRACE_S } from "./liveness.ts";
import type { ClientPolicy } from "./types.ts";

export interface ClientSettings {
  /** overrides the interval the agent reports (s); null = trust the agent */
  interval_s: number | null;
  /** silence tolerated beyond the interval before offline (s); null = the server's --grace */
  grace_s: number | null;
  /** ISO 3166-1 alpha-2 the exit must be in; null = any */
  expected_country: string | null;
  /** AS number the exit must be in; null = any */
  expected_asn: number | null;
  /** a paused client is grey, never late or offline, and alerts nothing */
  paused: boolean;
  /** ms since the epoch; alerts are held until then */
  muted_until: number | null;
  /** resolver AS numbers that are fine for this client; null = the server's --dns-allow-asn */
  dns_allow_asns: number[] | null;
  /**
   * The exit networks this client may use (set by "Lock" from what it used, or by hand); an exit
   * in any other AS is red (exit.unexpected). null = not locked.
   */
  exit_asns: number[] | null;
  /** The exit countries (ISO 3166-1 alpha-2) this client may use; null = not locked. */
  exit_countries: string[] | null;
  /** labels that route its alerts (a channel URL's ?tags=): lower case, each once */
  tags: readonly string[];
}

export const DEFAULT_SETTINGS: Readonly<ClientSettings> = Object.freeze({
  interval_s: null,
  grace_s: null,
  expected_country: null,
  expected_asn: null,
  paused: false,
  muted_until: null,
  dns_allow_asns: null,
  exit_asns: null,
  exit_countries: null,
  tags: Object.freeze([]),
});

export const SETTING_LIMITS = {
  interval_s: { min: 5, max: 86_400 },
  grace_s: { min: 0, max: 86_400 },
  dns_allow_asns: { maxItems: 64 },
  exit_asns: { maxItems: 256 },
  exit_countries: { maxItems: 256 },
  tags: { maxItems: 32 },
} as const;

/** A client tag: 1-64 of a-z 0-9 _ . - (stored in lower case; filters compare so too). */
export const TAG = /^[a-z0-9_.-]{1,64}$/;

/**
 * Tags as people write them ("Home, family" or ["Home", "family"]) in stored form: trimmed,
 * lower case, each once, in the order given. Validation comes after (validateSettingsChange).
 */
export function normalizeTags(input: string | readonly unknown[]): unknown[] {
  const items = typeof input === "string" ? input.split(/[\s,]+/) : [...input];
  const out: unknown[] = [];
  for (const item of items) {
    const tag = typeof item === "string" ? item.trim().toLowerCase() : item;
    if (tag !== "" && !out.includes(tag)) out.push(tag);
  }
  return out;
}

export type SettingKey = keyof ClientSettings;
export const SETTING_KEYS = Object.keys(DEFAULT_SETTINGS) as SettingKey[];

const isAsn = (v: unknown): v is number =>
  Number.isInteger(v) && (v as number) > 0 && (v as number) < 2 ** 32;
const isSeconds = (v: unknown, key: "interval_s" | "grace_s"): v is number =>
  Number.isInteger(v) && (v as number) >= SETTING_LIMITS[key].min && (v as number) <= SETTING_LIMITS[key].max;

/** Why `value` is not valid for `key`, or null when it is. `value` is already in stored form. */
function problemWith(key: SettingKey, value: unknown): string | null {
  switch (key) {
    case "interval_s":
    case "grace_s": {
      const { min, max } = SETTING_LIMITS[key];
      return value === null || isSeconds(value, key)
        ? null
        : `must be whole seconds from ${min} to ${max}, or null for the default`;
    }
    case "expected_country":
      return value === null || (typeof value === "string" && /^[A-Z]{2}$/.test(value))
        ? null
        : "must be a two-letter country code or null";
    case "expected_asn":
      return value === null || isAsn(value) ? null : "must be an AS number or null";
    case "paused":
      return typeof value === "boolean" ? null : "must be true or false";
    case "muted_until":
      return value === null || (typeof value === "number" && Number.isFinite(value))
        ? null
        : "must be a time or null";
    case "tags":
      return Array.isArray(value) &&
        value.length <= SETTING_LIMITS.tags.maxItems &&
        value.every((t) => typeof t === "string" && TAG.test(t)) &&
        new Set(value).size === value.length
        ? null
        : `must be a list of at most ${SETTING_LIMITS.tags.maxItems} different tags of 1-64 lower-case letters, digits, _ . -`;
    case "dns_allow_asns":
    case "exit_asns":
      return value === null ||
        (Array.isArray(value) && value.length <= SETTING_LIMITS[key].maxItems && value.every(isAsn))
        ? null
        : `must be a list of at most ${SETTING_LIMITS[key].maxItems} AS numbers, or null`;
    case "exit_countries":
      return value === null ||
        (Array.isArray(value) &&
          value.length <= SETTING_LIMITS.exit_countries.maxItems &&
          value.every((c) => typeof c === "string" && /^[A-Z]{2}$/.test(c)))
        ? null
        : `must be a list of at most ${SETTING_LIMITS.exit_countries.maxItems} two-letter country codes, or null`;
  }
}

/**
 * Checks a change to the settings (stored form: seconds, ms since the epoch, upper-case
 * country). Unknown keys and invalid values come back as field errors with paths like `/grace_s`.
 */
export function validateSettingsChange(
  change: Record<string, unknown>,
): { ok: true; change: Partial<ClientSettings> } | { ok: false; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const valid: Partial<ClientSettings> = {};
  for (const [key, value] of Object.entries(change)) {
    if (!(SETTING_KEYS as string[]).includes(key)) {
      errors.push({ path: `/${key}`, message: `unknown setting; use one of ${SETTING_KEYS.join(", ")}` });
      continue;
    }
    const problem = problemWith(key as SettingKey, value);
    if (problem) errors.push({ path: `/${key}`, message: problem });
    else (valid as Record<string, unknown>)[key] = value;
  }
  return errors.length ? { ok: false, errors } : { ok: true, change: valid };
}

/**
 * Settings as stored (JSON from any earlier version): every valid field kept, anything else
 * back to its default, so a hand-edited or old row can never feed the judge a wrong type.
 */
export function readSettings(stored: unknown): ClientSettings {
  const out: ClientSettings = { ...DEFAULT_SETTINGS };
  if (typeof stored !== "object" || stored === null) return out;
  for (const key of SETTING_KEYS) {
    const value = (stored as Record<string, unknown>)[key];
    if (value !== undefined && problemWith(key, value) === null)
      (out as unknown as Record<string, unknown>)[key] = value;
  }
  return out;
}

/** Server-wide defaults a client's settings fall back to. */
export interface PolicyDefaults {
  dnsAllowAsns?: readonly number[];
  graceS?: number;
}

/** The policy the judge and the liveness rules use: the settings over the server's defaults. */
export function policyFrom(s: ClientSettings, defaults: PolicyDefaults = {}): ClientPolicy {
  return {
    dns_allow_asns: [...(s.dns_allow_asns ?? defaults.dnsAllowAsns ?? DEFAULT_DNS_ALLOW_ASNS)],
    paused: s.paused,
    interval_s: s.interval_s,
    grace_s: s.grace_s ?? defaults.graceS ?? DEFAULT_GRACE_S,
    expected_country: s.expected_country,
    expected_asn: s.expected_asn,
    exit_asns: s.exit_asns,
    exit_countries: s.exit_countries,
  };
}

/** The end of a running mute, or null when alerts are not muted at `now`. */
export function mutedUntil(s: ClientSettings, now: number): number | null {
  return s.muted_until !== null && s.muted_until > now ? s.muted_until : null;
}
