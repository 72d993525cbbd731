/** Builders for signed report requests, shared by protocol, property and flow tests. */
import type { ReportV1 } from "../../src/protocol/report.ts";
import { signRequest } from "../../src/protocol/signing.ts";

export function sampleReport(overrides: Partial<ReportV1> = {}): ReportV1 {
  return {
    v: 1,
    agent: { version: "test", os: "linux", arch: "x64", hostname: "box" },
    observed_at: new Date().toISOString(),
    interval_s: 30,
    ipv4: {
      ip: "198.51.100.7",
      consistent: true,
      answers: [
        { provider: "http://echo-a", ip: "198.51.100.7", latency_ms: 12, error: null },
        { provider: "http://echo-b", ip: "198.51.100.7", latency_ms: 15, error: null },
      ],
    },
    ipv6: { ip: null, consistent: true, answers: [] },
    dns: [
      {
        probe: "whoami.akamai.net",
        type: "A",
        via: "127.0.0.53",
        answers: ["192.0.2.1"],
        latency_ms: 4,
        error: null,
      },
    ],
    errors: [],
    ...overrides,
  };
}

export interface Credentials {
  id: string;
  secret: string;
}

export function signedPost(
  baseUrl: string,
  cred: Credentials,
  body: string,
  opts: { nowS?: number; headers?: Record<string, string | null> } = {},
): Request {
  const headers: Record<string, string> = signRequest(cred.id, cred.secret, body, opts.nowS);
  for (const [k, v] of Object.entries(opts.headers ?? {})) {
    if (v === null) delete headers[k];
    else headers[k] = v;
  }
  return new Request(`${baseUrl}/api/v1/reports`, { method: "POST", headers, body });
}
