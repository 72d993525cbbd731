/** What a smtp channel URL must say, checked at start (light: no client library). */
export interface SmtpConfig {
  host: string;
  port: number;
  secure: boolean;
  starttls: "opportunistic" | "required";
  user: string | null;
  pass: string | null;
  from: string;
  to: string[];
}

const ADDRESS = /^[^\s@<>,]+@[^\s@<>,]+$/;

export function parseSmtpUrl(url: URL): SmtpConfig | string {
  const secure = url.protocol === "smtps:";
  const from = url.searchParams.get("from");
  const to = (url.searchParams.get("to") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (!from) return "needs ?from=ADDRESS";
  if (!ADDRESS.test(from.replace(/^.*<(.*)>$/, "$1"))) return `?from=${from} is not an email address`;
  if (!to.length) return "needs ?to=ADDRESS[,ADDRESS]";
  const bad = to.find((a) => !ADDRESS.test(a));
  if (bad) return `?to: ${bad} is not an email address`;
  const starttls = url.searchParams.get("starttls") ?? "opportunistic";
  if (starttls !== "opportunistic" && starttls !== "required")
    return "?starttls= must be required (the default uses STARTTLS whenever the server offers it)";
  if (secure && url.searchParams.has("starttls"))
    return "?starttls= is for smtp://; smtps:// is TLS from the start";
  return {
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    starttls,
    user: url.username ? decodeURIComponent(url.username) : null,
    pass: url.password ? decodeURIComponent(url.password) : null,
    from,
    to,
  };
}
