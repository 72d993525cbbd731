/**
 * The judgements behind `sentinel client doctor`, as pure functions of what was measured, so
 * each verdict and its fix line are tested without a network. doctor.ts does the measuring.
 */

import { resolverAddresses } from "../probe/dns.ts";
import { describeFetchError, isTlsError } from "../probe/fetch-error.ts";
import type { ProbeResult } from "../probe/run.ts";
import { MAX_CLOCK_SKEW_S } from "../protocol/signing.ts";

export type CheckStatus = "ok" | "warn" | "fail" | "info";

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  /** what to do about it; absent when nothing needs doing */
  fix?: string;
}

/** Clock skew from the server's Date header (1 s resolution) against the middle of our request. */
export function judgeClock(serverDate: string | null, sentAt: number, receivedAt: number): Check {
  const server = serverDate ? Date.parse(serverDate) : Number.NaN;
  if (Number.isNaN(server))
    return {
      name: "clock",
      status: "warn",
      detail: "the server sent no Date header; skew unknown",
      fix: "check the reverse proxy passes the Date header",
    };
  const skewS = Math.round((server - (sentAt + receivedAt) / 2) / 1000);
  const detail =
    skewS === 0
      ? "in step with the server (±1 s)"
      : `this machine is ${Math.abs(skewS)} s ${skewS > 0 ? "behind" : "ahead of"} the server`;
  const ntp = "enable time sync here and on the server: timedatectl set-ntp true (or install chrony)";
  if (Math.abs(skewS) > MAX_CLOCK_SKEW_S)
    return {
      name: "clock",
      status: "fail",
      detail: `${detail}; reports more than ${MAX_CLOCK_SKEW_S} s off are refused`,
      fix: ntp,
    };
  if (Math.abs(skewS) > 30) return { name: "clock", status: "warn", detail, fix: ntp };
  return { name: "clock", status: "ok", detail };
}

/** Classifies a failed fetch to the server: TLS trouble needs a different fix than a dead port. */
export function judgeServerError(url: string, err: unknown): Check {
  const e = err as { name?: string };
  const text = describeFetchError(err);
  if (isTlsError(err))
    return {
      name: "server",
      status: "fail",
      detail: `TLS failed for ${url} (${text})`,
      fix: "the certificate is not trusted here or does not match the host name: use the name on the certificate, or trust its CA with NODE_EXTRA_CA_CERTS=/path/ca.pem",
    };
  if (e.name === "TimeoutError" || e.name === "AbortError" || (err as { code?: string }).code === "ETIMEDOUT")
    return {
      name: "server",
      status: "fail",
      detail: `${url} did not answer in time (${text})`,
      fix: "the server is unreachable from this network (namespace): check the VPN's routes or kill switch allow the server's address",
    };
  return {
    name: "server",
    status: "fail",
    detail: `${url} unreachable (${text})`,
    fix: "check the server runs (systemctl status vpn-sentinel-server), the URL and port, and that this network can reach it",
  };
}

export function judgeServerAnswer(url: string, status: number): Check {
  const https = url.startsWith("https:");
  if (status !== 200)
    return {
      name: "server",
      status: "fail",
      detail: `${url}/healthz answered HTTP ${status}`,
      fix: "is this URL the sentinel server (or a proxy in front of it)?",
    };
  const host = new URL(url).hostname;
  const local =
    /^(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|\[?::1\]?$|\[?f[cd])/i.test(host) ||
    host === "localhost";
  if (!https && !local)
    return {
      name: "server",
      status: "warn",
      detail: `reachable over plain HTTP (${url})`,
      fix: "reports are signed but readable on the way: put the server behind HTTPS (--tls-cert/--tls-key or a reverse proxy)",
    };
  return {
    name: "server",
    status: "ok",
    detail: `reachable (${https ? "TLS verified" : "plain HTTP on a local network"})`,
  };
}

export interface NamespaceFacts {
  /** "net:[4026531840]" for us and for PID 1; null where /proc is not readable */
  own: string | null;
  init: string | null;
  /** `ip netns identify` output: the namespace's name, "" when it has none */
  name: string | null;
}

export function judgeNamespace(ns: NamespaceFacts): Check {
  const id = ns.own ?? "unknown";
  if (ns.name) return { name: "namespace", status: "info", detail: `network namespace "${ns.name}" (${id})` };
  if (ns.own && ns.init && ns.own === ns.init)
    return {
      name: "namespace",
      status: "info",
      detail: `the host's network namespace (${id}, same as PID 1)`,
      fix: "if the VPN lives in a namespace, run the doctor inside it: ip netns exec NAME sentinel client doctor",
    };
  return {
    name: "namespace",
    status: "info",
    detail: `a separate network namespace without a name in /run/netns (${id}), e.g. a container`,
  };
}

/** Which resolvers the DNS path used (from resolv.conf or --dns-resolver) and what the world saw asking. */
export function judgeDns(result: ProbeResult, configured: string[]): Check {
  const via = [...new Set(result.dns.map((d) => d.via).filter((v): v is string => !!v))];
  const seen = [...new Set(result.dns.flatMap((d) => (d.error ? [] : resolverAddresses(d))))];
  const errors = result.dns.filter((d) => d.error).map((d) => `${d.probe}: ${d.error}`);
  const asked = via.length ? via : configured;
  if (!seen.length)
    return {
      name: "dns",
      status: "fail",
      detail:
        `no DNS probe answered via ${asked.join(", ") || "no resolver"}${errors.length ? ` (${errors.join("; ")})` : ""}`.slice(
          0,
          500,
        ),
      fix: "check the namespace's resolv.conf (/etc/netns/NAME/resolv.conf under ip netns) points at a resolver reachable through the VPN, or set --dns-resolver",
    };
  return {
    name: "dns",
    status: errors.length ? "warn" : "ok",
    detail:
      `queries go to ${asked.join(", ")}; the world sees them come from ${seen.join(", ")}${errors.length ? `; failed: ${errors.join("; ")}` : ""}`.slice(
        0,
        500,
      ),
    ...(errors.length
      ? {
          fix: "some DNS probes fail: check the resolver answers those names (or drop them with --dns-probe)",
        }
      : {}),
  };
}

export function judgeProviders(result: ProbeResult): Check[] {
  const checks: Check[] = [];
  for (const [family, r] of [
    ["ipv4", result.ipv4],
    ["ipv6", result.ipv6],
  ] as const) {
    if (!r) continue;
    const bad = r.answers.filter((a) => !a.ip);
    const good = r.answers.filter((a) => a.ip);
    const list = (xs: typeof r.answers) =>
      xs.map((a) => `${a.provider}${a.ip ? ` = ${a.ip}` : `: ${a.error ?? "no answer"}`}`).join("; ");
    if (!good.length)
      checks.push({
        name: `providers ${family}`,
        status: family === "ipv4" ? "fail" : "warn",
        detail: `no provider answered (${list(r.answers) || "none configured"})`.slice(0, 500),
        fix:
          family === "ipv4"
            ? "allow outbound HTTPS to the providers through the VPN, or choose reachable ones with --ip4-provider"
            : "no IPv6 here is fine for a v4-only tunnel (then use --no-ipv6); otherwise check --ip6-provider",
      });
    else if (!r.consistent)
      checks.push({
        name: `providers ${family}`,
        status: "warn",
        detail: `providers disagree (${list(good)})`.slice(0, 500),
        fix: "one provider may see another path (split tunnel, a proxy): check the routes, or drop the odd provider",
      });
    else
      checks.push({
        name: `providers ${family}`,
        status: bad.length ? "warn" : "ok",
        detail:
          `${r.ip} agreed by ${good.length}/${r.answers.length}${bad.length ? `; failing: ${list(bad)}` : ""}`.slice(
            0,
            500,
          ),
        ...(bad.length ? { fix: "replace failing providers with --ip4-provider/--ip6-provider" } : {}),
      });
  }
  return checks;
}

export function judgeReport(status: number, errorCode: string | null, verdict: string | null): Check {
  if (status === 202)
    return {
      name: "token",
      status: "ok",
      detail: `a signed report was accepted${verdict ? `; the server says: ${verdict}` : ""}`,
    };
  if (status === 401)
    return {
      name: "token",
      status: "fail",
      detail: "the server refused the signature (unknown client, wrong or retired secret, or clock skew)",
      fix: "on the server: sentinel clients list (is the client there?), then sentinel clients rotate NAME for a new token",
    };
  if (status === 429)
    return {
      name: "token",
      status: "warn",
      detail: "rate-limited (another client with this token is sending?)",
      fix: "run one client per token",
    };
  if (status === 503)
    return {
      name: "token",
      status: "fail",
      detail: `the server cannot store reports (${errorCode ?? "503"})`,
      fix: "on the server: check /readyz and the disk (df -h)",
    };
  return {
    name: "token",
    status: "fail",
    detail: `the report was refused: HTTP ${status}${errorCode ? ` ${errorCode}` : ""}`,
    fix: "run the server's and client's same version (sentinel version)",
  };
}
