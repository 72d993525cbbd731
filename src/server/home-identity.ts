/**
 * The home network's public identity: learned by asking the same echo providers the client
 * uses (the server runs outside the VPN, so what they see is the home line), plus what the
 * user configured with --home-ip / --home-asn. Refreshed every 10 minutes and kept in the
 * database, so the first report after a restart is judged against a known home.
 */
import type { Logger } from "../logger.ts";
import { ProviderPool } from "../probe/backoff.ts";
import { probePublicIp } from "../probe/public-ip.ts";
import type { GeoLookup } from "./geo/types.ts";
import type { HomeIdentity } from "./monitor/types.ts";
import type { Store } from "./store/index.ts";

export interface HomeIdentityConfig {
  /** addresses/CIDRs from --home-ip */
  addresses: string[];
  /** ASNs from --home-asn */
  asns: number[];
  /** false: use only the configured identity and never probe ("replace") */
  learn: boolean;
  ip4Providers: string[];
  ip6Providers: string[];
  refreshMs: number;
  timeoutMs: number;
}

export interface LearnedHome {
  ipv4: string | null;
  ipv6: string | null;
  asns: number[];
  at: number;
}

export interface HomeIdentityEvents {
  /** the learned public address changed (old is null on the very first learning) */
  onChange?: (before: LearnedHome | null, after: LearnedHome) => void;
  /** the server's own uplink: no provider answered in either family, or they answer again */
  onUplink?: (up: boolean, at: number) => void;
}

const META_KEY = "home.learned";

/** Pure: the identity used for judging — configured entries plus what was learned. */
export function combineHome(
  config: Pick<HomeIdentityConfig, "addresses" | "asns" | "learn">,
  learned: LearnedHome | null,
): HomeIdentity {
  const addresses = [...config.addresses];
  const asns = [...config.asns];
  if (config.learn && learned) {
    for (const ip of [learned.ipv4, learned.ipv6]) if (ip && !addresses.includes(ip)) addresses.push(ip);
    for (const asn of learned.asns) if (!asns.includes(asn)) asns.push(asn);
  }
  return { addresses, asns, learn: config.learn };
}

export class HomeIdentityService {
  private learned: LearnedHome | null;
  private combined: { from: LearnedHome | null; home: HomeIdentity } | undefined;
  private uplinkUp = true;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly pool = new ProviderPool();

  constructor(
    private readonly config: HomeIdentityConfig,
    private readonly deps: {
      store: Store;
      geo: GeoLookup;
      now: () => number;
      logger: Logger;
      fetch?: typeof fetch;
    },
    private readonly events: HomeIdentityEvents = {},
  ) {
    this.learned = null;
  }

  /**
   * Reads what was learned before (at start), or what the leading replica learned since (on
   * the others, which judge reports against it too).
   */
  async load(): Promise<void> {
    const saved = await this.deps.store.meta.get(META_KEY);
    const learned = saved ? (JSON.parse(saved) as LearnedHome) : null;
    if (learned?.at !== this.learned?.at) this.learned = learned;
  }

  /** The same object until something is learned, so per-report callers can key on it. */
  current(): HomeIdentity {
    if (this.combined?.from !== this.learned)
      this.combined = { from: this.learned, home: combineHome(this.config, this.learned) };
    return this.combined.home;
  }

  learnedIdentity(): LearnedHome | null {
    return this.learned;
  }

  /** Probes both families once. Keeps the previous identity for a family that gets no answer. */
  async refresh(): Promise<void> {
    if (!this.config.learn) return;
    const opts = {
      timeoutMs: this.config.timeoutMs,
      pool: this.pool,
      now: this.deps.now,
      ...(this.deps.fetch ? { fetch: this.deps.fetch } : {}),
    };
    const [v4, v6] = await Promise.all([
      this.config.ip4Providers.length ? probePublicIp(4, this.config.ip4Providers, opts) : null,
      this.config.ip6Providers.length ? probePublicIp(6, this.config.ip6Providers, opts) : null,
    ]);
    const answered = [v4, v6].some((r) => r?.answers.some((a) => a.ip));
    const at = this.deps.now();
    if (answered !== this.uplinkUp) {
      this.uplinkUp = answered;
      this.deps.logger.warn(
        answered ? "home uplink is back" : "home uplink looks down: no IP provider answered",
      );
      this.events.onUplink?.(answered, at);
    }
    if (!answered) return;
    const ipv4 = v4?.ip ?? this.learned?.ipv4 ?? null;
    const ipv6 = v6?.ip ?? this.learned?.ipv6 ?? null;
    const asns = [
      ...new Set(
        [ipv4, ipv6]
          .flatMap((ip) => (ip ? [this.deps.geo.lookup(ip).asn] : []))
          .filter((a): a is number => a !== null),
      ),
    ];
    const next: LearnedHome = { ipv4, ipv6, asns, at };
    const before = this.learned;
    this.learned = next;
    await this.deps.store.meta.set(META_KEY, JSON.stringify(next));
    if (!before || before.ipv4 !== ipv4 || before.ipv6 !== ipv6) {
      this.deps.logger.info(
        `home identity: IPv4 ${ipv4 ?? "none"}, IPv6 ${ipv6 ?? "none"}, AS ${asns.join(", ") || "unknown"}`,
      );
      this.events.onChange?.(before, next);
    }
  }

  /** Learns now and then every refresh interval (in the process that leads). */
  start(): void {
    if (!this.config.learn || this.timer) return;
    const tick = () =>
      this.refresh().catch((e) =>
        this.deps.logger.warn(`home identity refresh failed: ${(e as Error).message}`),
      );
    void tick();
    this.timer = setInterval(tick, this.config.refreshMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
