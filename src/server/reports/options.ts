/** Options of history features (merged into serverSpecs by the server command). */
import type { OptionSpecs } from "../../config/options.ts";
import { parseReportSchedule } from "./schedule.ts";

export const reportSpecs = {
  reportSchedule: {
    kind: "list",
    description:
      'Send a summary report to every alert channel at this time in --notify-timezone: "mon 08:00" weekly, "daily 07:30", "monthly 09:00" (the 1st); repeatable',
    valueHint: "WHEN HH:MM",
    check: (v: string[]) =>
      v.map((s) => parseReportSchedule(s)).find((r): r is string => typeof r === "string"),
  },
  notifyAnomalies: {
    kind: "boolean",
    description:
      "Alert on anomaly events (a client's unusual leak or flap rate, drifting report gaps); they are always shown on the dashboard and in reports",
    default: false,
  },
} satisfies OptionSpecs;
