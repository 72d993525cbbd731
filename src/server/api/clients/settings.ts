/** Validation of PATCH /api/v1/clients/:id bodies: pure, with field paths like every 400. */
import type { FieldError } from "../../../protocol/report.ts";
import type { ClientSettings } from "../../monitor/service.ts";

const KEYS = [
  "interval",
  "grace",
  "expected_country",
  "expected_asn",
  "paused",
  "muted_until",
  "dns_allow_asns",
] as const;

export function parseSettingsPatch(
  body: unknown,
): { ok: true; patch: ClientSettings } | { ok: false; errors: FieldError[] } {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    return { ok: false, errors: [{ path: "", message: "must be a JSON object" }] };
  const b = body as Record<string, unknown>;
  const errors: FieldError[] = [];
  const patch: ClientSettings = {};
  const unknown = Object.keys(b).filter((k) => !(KEYS as readonly string[]).includes(k));
  for (const k of unknown)
    errors.push({ path: `/${k}`, message: `unknown setting; use one of ${KEYS.join(", ")}` });
  const secondsOrNull = (key: "interval" | "grace", min: number, max: number) => {
    const v = b[key];
    if (v === undefined) return undefined;
    if (v === null) return null;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      errors.push({
        path: `/${key}`,
        message: `must be whole seconds from ${min} to ${max}, or null for the default`,
      });
      return undefined;
    }
    return v;
  };
  const interval = secondsOrNull("interval", 1, 86_400);
  if (interval !== undefined) patch.interval_s = interval;
  const grace = secondsOrNull("grace", 1, 86_400);
  if (grace !== undefined) patch.grace_s = grace;
  if (b.expected_country !== undefined) {
    if (b.expected_country === null) patch.expected_country = null;
    else if (typeof b.expected_country === "string" && /^[A-Za-z]{2}$/.test(b.expected_country))
      patch.expected_country = b.expected_country.toUpperCase();
    else errors.push({ path: "/expected_country", message: "must be a two-letter country code or null" });
  }
  if (b.expected_asn !== undefined) {
    if (b.expected_asn === null) patch.expected_asn = null;
    else if (
      typeof b.expected_asn === "number" &&
      Number.isInteger(b.expected_asn) &&
      b.expected_asn > 0 &&
      b.expected_asn < 2 ** 32
    )
      patch.expected_asn = b.expected_asn;
    else errors.push({ path: "/expected_asn", message: "must be an AS number or null" });
  }
  if (b.paused !== undefined) {
    if (typeof b.paused === "boolean") patch.paused = b.paused;
    else errors.push({ path: "/paused", message: "must be true or false" });
  }
  if (b.muted_until !== undefined) {
    if (b.muted_until === null) patch.muted_until = null;
    else if (typeof b.muted_until === "string" && !Number.isNaN(Date.parse(b.muted_until)))
      patch.muted_until = Date.parse(b.muted_until);
    else errors.push({ path: "/muted_until", message: "must be an ISO 8601 date-time or null" });
  }
  if (b.dns_allow_asns !== undefined) {
    if (
      Array.isArray(b.dns_allow_asns) &&
      b.dns_allow_asns.length <= 64 &&
      b.dns_allow_asns.every((n) => Number.isInteger(n) && n > 0)
    )
      patch.dns_allow_asns = b.dns_allow_asns as number[];
    else errors.push({ path: "/dns_allow_asns", message: "must be a list of at most 64 AS numbers" });
  }
  return errors.length ? { ok: false, errors } : { ok: true, patch };
}
