/**
 * The history features' background work, for the process that leads: once a minute, roll up
 * finished days (and judge yesterday's trends when a day is new), then send any scheduled
 * report that is due. Also once right after the start, so a report missed while the server was
 * down goes out at once.
 */
import type { Logger } from "../../logger.ts";
import type { Broker } from "../broker.ts";
import type { ClientMonitor } from "../monitor/service.ts";
import type { ChannelSource } from "../notify/channel.ts";
import type { BackgroundService } from "../services.ts";
import { periodic } from "../services.ts";
import type { Store } from "../store/index.ts";
import { AnomalyJob } from "./anomaly-job.ts";
import { RollupJob } from "./rollup.ts";
import { parseReportSchedule, type ReportSchedule } from "./schedule.ts";
import { ReportScheduler } from "./scheduler.ts";

export interface HistoryServiceDeps {
  store: Store;
  monitor: Pick<ClientMonitor, "recordClientEvents">;
  channels: ChannelSource;
  now: () => number;
  logger: Logger;
  broker?: Broker;
  /** --report-schedule texts (already checked) and --notify-timezone */
  reportSchedule: readonly string[];
  timeZone: string;
  notifyAnomalies: boolean;
  /** --retention of raw history (ms; 0 keeps everything) */
  retentionMs: number;
  everyMs?: number;
}

export function historyService(deps: HistoryServiceDeps): BackgroundService {
  const { store, now, logger } = deps;
  const anomalies = new AnomalyJob({
    store,
    monitor: deps.monitor,
    now,
    logger,
    alert: deps.notifyAnomalies,
  });
  const rollups = new RollupJob({
    store,
    now,
    logger,
    retentionMs: deps.retentionMs,
    onDay: async (day) => void (await anomalies.judgeDay(day)),
  });
  const schedules = deps.reportSchedule.map((s) => parseReportSchedule(s, deps.timeZone) as ReportSchedule);
  const reports = new ReportScheduler({
    store,
    channels: deps.channels,
    schedules,
    now,
    logger,
    ...(deps.broker ? { broker: deps.broker } : {}),
  });
  const work = async () => {
    await rollups.run();
    await reports.tick();
  };
  const task = periodic("history: rollups and reports", deps.everyMs ?? 60_000, work, logger);
  let first: Promise<void> | null = null;
  return {
    name: task.name,
    start() {
      first = work().catch((e) => logger.error(`${task.name} failed: ${(e as Error).message}`));
      task.start();
    },
    async stop() {
      await task.stop();
      await first;
    },
  };
}
