/**
 * ClientMonitor: the I/O shell around the pure evaluator and liveness rules. It persists each
 * accepted report with its flips in one transaction, and sweeps deadlines for late/offline.
 */
import type { Logger } from "../../cli/common.ts";
import type { AcceptedReport, AcceptResult } from "../api/reports/service.ts";
import type { Store } from "../store/index.ts";

export interface MonitorDeps {
  store: Store;
  now: () => number;
  logger: Logger;
}

const DEFAULT_GRACE_MS = 60_000;

export class ClientMonitor {
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly deps: MonitorDeps) {}

  start(_startedAt: number) {}

  stop() {
    if (this.timer) clearInterval(this.timer);
  }

  acceptReport(r: AcceptedReport): AcceptResult {
    const { store } = this.deps;
    const intervalMs = r.report.interval_s * 1000;
    store.transaction(() => {
      if (r.client.lastReportAt === null)
        store.events.append({ clientId: r.client.id, kind: "client.first_seen", from: null, to: "online", evidence: {}, at: r.receivedAt, suppressed: false });
      store.clients.applyReport(r.client.id, {
        state: {},
        lastReport: r.report,
        lastSourceIp: r.sourceIp,
        lastReportAt: r.receivedAt,
        status: "yellow",
        liveness: "online",
        lateAt: r.receivedAt + intervalMs * 1.5,
        offlineAt: r.receivedAt + intervalMs + DEFAULT_GRACE_MS,
      });
    });
    return { nextReportInS: r.report.interval_s };
  }
}
