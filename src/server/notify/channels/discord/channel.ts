/**
 * Discord: an execute-webhook call with one embed (colour by severity; verdict, evidence and a
 * dashboard link as fields), from the `discord` template. Discord's limits are enforced after
 * rendering (title 256, description 4096, 25 fields of 256/1024, 6000 characters in all), and
 * its webhook rate (5 requests per 2 s) is paced. A deleted webhook answers 404: the channel
 * is disabled instead of retried.
 *   discord+https://discord.com/api/webhooks/ID/TOKEN
 */
import type { PaceRule } from "../../channel.ts";
import type { Notification } from "../../types.ts";
import { HttpChannel, type HttpRequest, type UrlChannelContext } from "../http.ts";
import type { DiscordConfig } from "./config.ts";

const cut = (v: unknown, n: number) => {
  const s = typeof v === "string" ? v : "";
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
};

type Embed = Record<string, unknown> & { fields?: { name: string; value: string; inline?: boolean }[] };

/** Applies Discord's embed limits so a long evidence list never makes the API refuse the alert. */
export function fitEmbed(embed: Embed): Embed {
  const out: Embed = { ...embed };
  if (out.title !== undefined) out.title = cut(out.title, 256);
  if (out.description !== undefined) out.description = cut(out.description, 4096);
  if (out.fields)
    out.fields = out.fields.slice(0, 25).map((f) => ({
      ...f,
      name: cut(f.name, 256) || "\u200b",
      value: cut(f.value, 1024) || "\u200b",
    }));
  let total = JSON.stringify([out.title, out.description, out.fields, out.footer]).length;
  while (total > 5800 && out.fields && out.fields.length > 1) {
    out.fields = out.fields.slice(0, -1);
    total = JSON.stringify([out.title, out.description, out.fields, out.footer]).length;
  }
  if (total > 5800 && typeof out.description === "string") out.description = cut(out.description, 2000);
  return out;
}

export class DiscordChannel extends HttpChannel {
  readonly service = "discord";

  constructor(
    ctx: UrlChannelContext,
    private readonly config: DiscordConfig,
  ) {
    super(ctx);
  }

  render(n: Notification): HttpRequest[] {
    const doc = this.ctx.templates.renderJson("discord", n);
    if (Array.isArray(doc.embeds)) doc.embeds = (doc.embeds as Embed[]).slice(0, 10).map(fitEmbed);
    if (typeof doc.content === "string") doc.content = cut(doc.content, 2000);
    return [{ url: this.config.endpoint, body: JSON.stringify({ username: "VPN Sentinel", ...doc }) }];
  }

  override pace(): PaceRule {
    return { minIntervalMs: 400, perMinute: 30 };
  }
}
