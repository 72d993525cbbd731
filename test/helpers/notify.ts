/** Notifications of every kind and URL channels built the way the server builds them, for channel tests. */

import { EVENT_KINDS, EVENT_SEVERITY } from "../../src/protocol/events.ts";
import type { Channel } from "../../src/server/notify/channel.ts";
import type { ClientStateSource } from "../../src/server/notify/channels/mqtt/channel.ts";
import { buildUrlChannels } from "../../src/server/notify/channels/registry.ts";
import { MessageTemplates } from "../../src/server/notify/templates.ts";
import type { Notification } from "../../src/server/notify/types.ts";
import type { ReportDigest } from "../../src/server/reports/digest.ts";
import { quietLogger } from "./server.ts";

export const AT = Date.UTC(2026, 10, 18, 12, 0);

export const NO_STATES: ClientStateSource = {
  list: async () => [],
  get: async () => null,
  subscribe: () => () => {},
};

const stat = (count: number, duration_s: number) => ({ count, duration_s });
/** A scheduled report whose names and reasons are hostile markup, like the sample's client. */
export const SAMPLE_REPORT: ReportDigest = {
  title: "Weekly report",
  schedule: "mon 08:00 UTC",
  from: AT - 7 * 86_400_000,
  to: AT,
  timeZone: "UTC",
  clients: 3,
  fleet: {
    observed_s: 3 * 7 * 86_400,
    uptime: 0.99,
    protected: 0.97,
    incidents: {
      bypass: stat(1, 600),
      dns: stat(2, 1200),
      ipv6: stat(0, 0),
      exit: stat(0, 0),
      offline: stat(1, 300),
    },
    mttr_s: 700,
  },
  worst: [
    {
      id: "c1",
      name: "laptop <b>&</b> *x*",
      protected: 0.91,
      uptime: 0.99,
      observed_s: 7 * 86_400,
      incidents: {
        bypass: stat(1, 600),
        dns: stat(2, 1200),
        ipv6: stat(0, 0),
        exit: stat(0, 0),
        offline: stat(1, 300),
      },
      mttr_s: 700,
    },
  ],
  moreWorst: 0,
  clean: 2,
  anomalies: [
    { client: "laptop <b>&</b> *x*", title: "Unusual leak rate", reason: "7 leaks <i>unusual</i>", at: AT },
  ],
};

/** A notification with evidence that exercises every template branch. */
export function sample(kind: Notification["kind"], over: Partial<Notification> = {}): Notification {
  const notifierOnly = kind === "digest" || kind === "test" || kind === "report";
  const serverWide = kind.startsWith("uplink.") || kind === "server.started" || notifierOnly;
  const severity = kind === "reminder" ? "red" : notifierOnly ? "info" : EVENT_SEVERITY[kind];
  return {
    kind,
    severity,
    eventId: 7,
    client: serverWide ? null : { id: "c1", name: "laptop <b>&</b> *x*" },
    from: "ok",
    to: "leak",
    at: AT,
    evidence: {
      reason: 'Traffic leaves through "home" & <more>.',
      exits: [
        {
          ip: "203.0.113.7",
          info: { ip: "203.0.113.7", country: "DE", asn: 3320, org: "Example_Telekom" },
          providers: ["p1", "p2"],
          home_match: { kind: "asn", asn: 3320 },
        },
      ],
      resolvers: [{ ip: "198.51.100.53", info: { ip: "198.51.100.53", asn: 64500 }, judgement: "home" }],
    },
    facts: {
      status: "red",
      reason: "still leaking",
      lastSeenAt: AT - 60_000,
      lastExit: {
        ipv4: { ip: "203.0.113.9", country: "NL", asn: 64501, org: "VPN", source: "database" } as never,
        ipv6: null,
      },
      downtimeMs: 754_000,
      since: AT - 3_600_000,
      heldBack: ["a", "b"],
      counts: { green: 3, red: 1 },
      ...(kind === "report" ? { report: SAMPLE_REPORT } : {}),
    },
    ...(kind === "digest" ? { items: [sample("bypass.started"), sample("client.offline")] } : {}),
    ...over,
  };
}

export const EVERY_KIND: Notification["kind"][] = [...EVENT_KINDS, "reminder", "digest", "test", "report"];

export function templates(publicUrl: string | null = "https://sentinel.example/x_y") {
  return MessageTemplates.load({ publicUrl, timeZone: "UTC" }, quietLogger());
}

/** One channel from one URL, built like createNotifications builds it. */
export function urlChannel<M = unknown>(
  url: string,
  opts: { states?: ClientStateSource; tls?: { ca?: string }; timeoutMs?: number } = {},
): Channel<M> {
  const built = buildUrlChannels([url], {
    templates: templates(),
    publicUrl: "https://sentinel.example/x_y",
    logger: quietLogger(),
    states: opts.states ?? NO_STATES,
    requestTimeoutMs: opts.timeoutMs ?? 2_000,
    ...(opts.tls ? { tls: opts.tls } : {}),
  });
  const channel = built.channels[0];
  if (!channel) throw new Error(`no channel from ${url}`);
  return channel as Channel<M>;
}

/** Renders and sends like the dispatcher does (every part, the row's key). */
export async function deliver(channel: Channel, n: Notification, key = "k:1"): Promise<void> {
  const [target] = channel.targets();
  for (const m of channel.render(n, target as string, { key })) await channel.send(target as string, m);
}
