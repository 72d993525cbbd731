/**
 * A dashboard app on a clock the test moves, with reports judged by the real monitor at the
 * times the test names: history, events and rollups as a running server would write them.
 */
import { createApiToken } from "../../src/server/auth/api-tokens.ts";
import { enrollClient } from "../../src/server/enrollment.ts";
import { buildReport, type ReportSpec } from "../../src/server/monitor/testing.ts";
import type { ClientRecord } from "../../src/server/store/index.ts";
import { buildWebApp } from "../web-helpers.ts";

export const H = 3_600_000;
export const BYPASS: ReportSpec = {
  v4: "203.0.113.7",
  v4Answers: [
    ["ipify", "203.0.113.7"],
    ["icanhazip", "203.0.113.7"],
  ],
};
/** a resolver in the home ISP's network: a DNS leak */
export const DNS_LEAK: ReportSpec = { resolvers: ["203.0.113.53"] };

export async function historyWorld(start: number) {
  const clock = { t: start };
  const w = await buildWebApp({ now: () => clock.t });
  const ids = new Map<string, { id: string; secret: string }>();
  return {
    w,
    clock,
    async add(name: string) {
      const e = await enrollClient(w.store, w.keyring, name, "http://x", clock.t);
      ids.set(name, { id: e.id, secret: e.secret });
      return e.id;
    },
    id: (name: string) => ids.get(name)?.id as string,
    credentials: (name: string) => ids.get(name) as { id: string; secret: string },
    /** the report `spec` from `name`, received at `at` */
    async report(name: string, at: number, spec: ReportSpec = {}) {
      clock.t = at;
      const client = (await w.store.clients.get(ids.get(name)?.id as string)) as ClientRecord;
      return w.store.transaction((tx) =>
        w.monitor.acceptReport({ client, report: buildReport(spec, at), sourceIp: null, receivedAt: at }, tx),
      );
    },
    async sweep(at: number) {
      clock.t = at;
      return w.monitor.sweep();
    },
    async token(role: "viewer" | "admin" = "viewer") {
      return (await createApiToken(w.store, `t-${role}-${Math.random()}`, role, clock.t)).token;
    },
  };
}
