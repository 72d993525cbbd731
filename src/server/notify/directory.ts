/**
 * The channels in effect: those of the options (fixed at start) and those added in the
 * dashboard (stored in the database, each URL sealed with the server key). The notifier and the
 * dispatcher ask it for the list at every decision, so a dashboard channel added, edited or
 * deleted takes effect at once: the change is announced with "channels.changed" (to every
 * replica, through the store's change feed), and each process reloads the stored ones.
 */
import type { Logger } from "../../logger.ts";
import type { Keyring } from "../auth/keyring.ts";
import type { Broker } from "../broker.ts";
import type { Store, StoredChannel } from "../store/index.ts";
import type { Channel, ChannelSource, ErrorClass, PaceRule } from "./channel.ts";
import { uniqueName } from "./channels/registry.ts";
import { type CheckedUrl, checkNotifyUrl } from "./channels/urls.ts";
import { channelName } from "./url.ts";

export type ChannelOrigin = "options" | "dashboard";

export interface ConfiguredChannel {
  channel: Channel;
  origin: ChannelOrigin;
  /** dashboard channels: the stored row's id */
  id: string | null;
  /** the URL with every secret masked, filters included; null for --telegram-token/--telegram-chat */
  url: string | null;
}

/**
 * A stored channel that cannot be built (its URL sealed with a key this server does not hold,
 * or no longer valid): listed with the problem, sent nothing, so the Alerts page says why.
 */
class UnusableChannel implements Channel<never> {
  constructor(
    readonly name: string,
    private readonly problem: string,
  ) {}
  targets(): string[] {
    return [];
  }
  validateConfig(): string[] {
    return [this.problem];
  }
  render(): never[] {
    return [];
  }
  async send(): Promise<never> {
    throw new Error(this.problem);
  }
  classifyError(): ErrorClass {
    return "permanent";
  }
  pace(): PaceRule {
    return { minIntervalMs: 0 };
  }
  describeError(): string {
    return this.problem;
  }
}

export interface DirectoryDeps {
  /** the channels of the options, in order */
  fixed: readonly ConfiguredChannel[];
  store: Store;
  /** opens sealed URLs; null: stored channels are listed as unusable */
  keyring: Keyring | null;
  build: (checked: CheckedUrl, name: string) => Channel;
  broker: Broker;
  logger: Pick<Logger, "error" | "warn" | "info">;
}

interface Loaded {
  row: StoredChannel;
  entry: ConfiguredChannel;
}

export class ChannelDirectory implements ChannelSource {
  private stored: Loaded[] = [];
  private channels: readonly Channel[];
  private running = false;
  private loading: Promise<void> | null = null;
  private again = false;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly listeners: (() => void)[] = [];

  constructor(private readonly deps: DirectoryDeps) {
    this.channels = deps.fixed.map((e) => e.channel);
  }

  list(): readonly Channel[] {
    return this.channels;
  }

  entries(): ConfiguredChannel[] {
    return [...this.deps.fixed, ...this.stored.map((s) => s.entry)];
  }

  find(name: string): ConfiguredChannel | undefined {
    return this.entries().find((e) => e.channel.name === name);
  }

  /** What a stopped channel's status tells to do. */
  howToFix(name: string): string {
    return this.find(name)?.origin === "dashboard"
      ? "edit the channel to fix it"
      : "fix the channel and restart";
  }

  /** `fn` runs after a reload that added, rebuilt or removed a channel (the dispatcher wakes). */
  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  /** Reloads when another process (or this one) changed the stored channels. */
  listen(): void {
    const reload = () =>
      void this.load().catch((e) =>
        this.deps.logger.error(`notify: reloading the dashboard's channels failed: ${(e as Error).message}`),
      );
    this.unsubscribe.push(
      this.deps.broker.subscribe("channels.changed", reload),
      this.deps.broker.subscribe("store.external", reload),
    );
  }

  /**
   * Reads the stored channels and rebuilds those that changed; unchanged ones keep their
   * channel object (and so their connection and the dispatcher's view of them). Calls made
   * while a load runs are folded into one more load after it.
   */
  load(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      try {
        do {
          this.again = false;
          await this.reload();
        } while (this.again);
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  /** Opens the connections of channels that have one (MQTT), now and for channels added later. */
  async start(): Promise<void> {
    this.running = true;
    await Promise.all(this.channels.map((c) => this.startChannel(c)));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.channels.map((c) => c.stop?.().catch(() => undefined)));
  }

  close(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }

  private async startChannel(c: Channel): Promise<void> {
    try {
      await c.start?.();
    } catch (e) {
      this.deps.logger.error(`${c.name}: could not start: ${(e as Error).message}`);
    }
  }

  private async reload(): Promise<void> {
    const rows = await this.deps.store.channels.list();
    const taken = new Set(this.deps.fixed.map((e) => e.channel.name));
    const next: Loaded[] = [];
    for (const row of rows) {
      const same = this.stored.find(
        (s) => s.row.id === row.id && s.row.urlSealed === row.urlSealed && !taken.has(s.entry.channel.name),
      );
      const entry = same?.entry ?? this.build(row, taken);
      taken.add(entry.channel.name);
      next.push({ row, entry });
    }
    const before = new Set(this.stored.map((s) => s.entry.channel));
    const after = new Set(next.map((s) => s.entry.channel));
    this.stored = next;
    this.channels = this.entries().map((e) => e.channel);
    const gone = [...before].filter((c) => !after.has(c));
    const added = [...after].filter((c) => !before.has(c));
    if (this.running)
      await Promise.all([
        ...gone.map((c) => c.stop?.().catch(() => undefined)),
        ...added.map((c) => this.startChannel(c)),
      ]);
    if (gone.length || added.length) for (const fn of this.listeners) fn();
  }

  private build(row: StoredChannel, taken: ReadonlySet<string>): ConfiguredChannel {
    const unusable = (problem: string): ConfiguredChannel => ({
      channel: new UnusableChannel(uniqueName(row.display, taken), problem),
      origin: "dashboard",
      id: row.id,
      url: row.display,
    });
    const { keyring } = this.deps;
    if (!keyring) return unusable("the server key is not loaded, so its URL cannot be opened");
    let text: string;
    try {
      text = keyring.decrypt(row.urlSealed);
    } catch (e) {
      return unusable((e as Error).message.replace("a client secret", "the channel URL"));
    }
    const checked = checkNotifyUrl(text);
    if ("error" in checked) return unusable(checked.error);
    const channel = this.deps.build(checked, uniqueName(channelName(checked.url), taken));
    return { channel, origin: "dashboard", id: row.id, url: checked.url.redacted };
  }
}
