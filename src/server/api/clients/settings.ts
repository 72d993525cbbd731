/**
 * PATCH /api/v1/clients/:id bodies: the API's names and forms (`interval`, `grace`, ISO times)
 * translated to the stored settings, then checked by the one validator
 * (src/server/monitor/settings.ts), with field paths in the API's names.
 */
import type { FieldError } from "../../../protocol/report.ts";
import { type ClientSettings, normalizeTags, validateSettingsChange } from "../../monitor/settings.ts";

/** API field → stored setting, where the names differ. */
const STORED_NAME: Record<string, keyof ClientSettings> = { interval: "interval_s", grace: "grace_s" };
const API_NAME: Record<string, string> = { interval_s: "interval", grace_s: "grace" };
const API_KEYS = [
  "interval",
  "grace",
  "expected_country",
  "expected_asn",
  "paused",
  "muted_until",
  "dns_allow_asns",
  "exit_asns",
  "exit_countries",
  "tags",
];

export function parseSettingsPatch(
  body: unknown,
): { ok: true; patch: Partial<ClientSettings> } | { ok: false; errors: FieldError[] } {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    return { ok: false, errors: [{ path: "", message: "must be a JSON object" }] };
  const errors: FieldError[] = [];
  const change: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (!API_KEYS.includes(key)) {
      errors.push({ path: `/${key}`, message: `unknown setting; use one of ${API_KEYS.join(", ")}` });
      continue;
    }
    if (key === "muted_until" && typeof value === "string") {
      const at = Date.parse(value);
      if (Number.isNaN(at))
        errors.push({ path: "/muted_until", message: "must be an ISO 8601 date-time or null" });
      else change.muted_until = at;
    } else if (key === "expected_country" && typeof value === "string") change[key] = value.toUpperCase();
    else if (key === "exit_countries" && Array.isArray(value))
      change[key] = value.map((c) => (typeof c === "string" ? c.toUpperCase() : c));
    else if (key === "tags" && Array.isArray(value)) change.tags = normalizeTags(value);
    else change[STORED_NAME[key] ?? key] = value;
  }
  const checked = validateSettingsChange(change);
  if (!checked.ok)
    errors.push(
      ...checked.errors.map((e) => ({ ...e, path: `/${API_NAME[e.path.slice(1)] ?? e.path.slice(1)}` })),
    );
  return errors.length || !checked.ok ? { ok: false, errors } : { ok: true, patch: checked.change };
}
