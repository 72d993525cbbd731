/**
 * Alert channels added in the dashboard: add, edit, delete. A URL is checked with the same
 * parser as --notify, sealed with the server key (like client secrets) and stored with its
 * masked form; every change commits with its audit entry and is announced ("channels.changed")
 * after the commit, so every replica's directory reloads; this process waits for its own reload
 * so the page it answers with already shows the change. Errors never name a secret.
 */
import { type Keyring, newId } from "../auth/keyring.ts";
import type { Broker } from "../broker.ts";
import type { Store, StoredChannel, Transaction } from "../store/index.ts";
import { type ChannelActor, ChannelChangeError } from "../web/channels.ts";
import { type CheckedUrl, checkNotifyUrl, type TelegramUrl } from "./channels/urls.ts";
import type { ChannelDirectory, ConfiguredChannel } from "./directory.ts";
import { channelName, unmaskUrl } from "./url.ts";

/** Longer than any real channel URL; keeps a pasted essay out of the database. */
const MAX_URL_CHARS = 2048;

export interface StoredChannelsDeps {
  store: Store;
  keyring: Keyring;
  directory: ChannelDirectory;
  broker: Broker;
  now: () => number;
}

export class StoredChannels {
  constructor(private readonly deps: StoredChannelsDeps) {}

  async add(text: string, by: ChannelActor): Promise<string> {
    const checked = this.check(text);
    this.refuseDuplicate(checked, null);
    const { store, keyring } = this.deps;
    const at = this.deps.now();
    const id = newId("ch_");
    const row: StoredChannel = {
      id,
      urlSealed: keyring.encrypt(text.trim()),
      display: checked.url.redacted,
      createdAt: at,
      updatedAt: at,
    };
    await store.transaction(async (tx) => {
      await tx.channels.create(row);
      await this.audited(tx, by, "channel.add", channelName(checked.url), {
        channel_id: id,
        url: row.display,
      });
      tx.afterCommit(() => this.deps.broker.publish("channels.changed", { id }));
    });
    return this.nameAfterReload(id);
  }

  async edit(name: string, text: string, by: ChannelActor): Promise<string> {
    const entry = this.editable(name);
    const { store, keyring } = this.deps;
    const row = await store.channels.get(entry.id as string);
    if (!row) throw new ChannelChangeError(404, `there is no channel ${name}`);
    let stored: string | null = null;
    try {
      stored = keyring.decrypt(row.urlSealed);
    } catch {
      // a URL sealed with a key this server lacks: only a complete new URL replaces it
    }
    const merged = stored === null ? text.trim() : unmaskUrl(text, stored);
    if (typeof merged !== "string") throw new ChannelChangeError(400, merged.error);
    const checked = this.check(merged);
    this.refuseDuplicate(checked, entry);
    const change = {
      urlSealed: keyring.encrypt(merged),
      display: checked.url.redacted,
      updatedAt: this.deps.now(),
    };
    await store.transaction(async (tx) => {
      if (!(await tx.channels.update(row.id, change)))
        throw new ChannelChangeError(404, `there is no channel ${name}`);
      await this.audited(tx, by, "channel.edit", channelName(checked.url), {
        channel_id: row.id,
        before: row.display,
        after: change.display,
      });
      tx.afterCommit(() => this.deps.broker.publish("channels.changed", { id: row.id }));
    });
    return this.nameAfterReload(row.id);
  }

  async remove(name: string, by: ChannelActor): Promise<void> {
    const entry = this.editable(name);
    const id = entry.id as string;
    await this.deps.store.transaction(async (tx) => {
      if (!(await tx.channels.remove(id))) throw new ChannelChangeError(404, `there is no channel ${name}`);
      await this.audited(tx, by, "channel.delete", name, { channel_id: id, url: entry.url });
      tx.afterCommit(() => this.deps.broker.publish("channels.changed", { id }));
    });
    await this.deps.directory.load();
  }

  private check(text: string): CheckedUrl {
    const url = text.trim();
    if (!url) throw new ChannelChangeError(400, "give the channel's URL, e.g. ntfys://ntfy.sh/my-topic");
    if (url.length > MAX_URL_CHARS)
      throw new ChannelChangeError(400, `a channel URL has at most ${MAX_URL_CHARS} characters`);
    const checked = checkNotifyUrl(url);
    if ("error" in checked) throw new ChannelChangeError(400, checked.error);
    return checked;
  }

  /** Two channels to one place would send every alert twice. */
  private refuseDuplicate(checked: CheckedUrl, self: ConfiguredChannel | null): void {
    const { directory } = this.deps;
    const name = channelName(checked.url);
    const other = directory.entries().find((e) => e.channel.name === name && e !== self);
    if (other) throw new ChannelChangeError(409, `${name} is configured already`);
    if (checked.url.scheme === "tgram") {
      const { chat } = checked.config as TelegramUrl;
      if (directory.find("telegram")?.channel.targets().includes(chat))
        throw new ChannelChangeError(
          409,
          `Telegram chat ${chat} gets alerts from the bot already (--telegram-chat)`,
        );
    }
  }

  private editable(name: string): ConfiguredChannel {
    const entry = this.deps.directory.find(name);
    if (!entry) throw new ChannelChangeError(404, `there is no channel ${name}`);
    if (entry.origin !== "dashboard" || entry.id === null)
      throw new ChannelChangeError(
        400,
        `${name} comes from the server's options: change it there (--notify, --telegram-*) and restart`,
      );
    return entry;
  }

  private audited(
    tx: Transaction,
    by: ChannelActor,
    action: string,
    target: string,
    detail: Record<string, unknown>,
  ) {
    return tx.auth.audit({
      at: this.deps.now(),
      actor: by.actor,
      action,
      target,
      detail,
      sourceIp: by.sourceIp,
    });
  }

  private async nameAfterReload(id: string): Promise<string> {
    await this.deps.directory.load();
    const entry = this.deps.directory.entries().find((e) => e.id === id);
    if (!entry) throw new ChannelChangeError(404, "the channel was deleted meanwhile");
    return entry.channel.name;
  }
}
