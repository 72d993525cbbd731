/**
 * Slack incoming webhooks (and Mattermost / Rocket.Chat, which take the same URL form): Block Kit
 * blocks from the `slack` template, with `text` as the fallback that notifications and the
 * Slack-compatible services without blocks show. Slack allows about one message a second per
 * webhook; 404/410 (channel gone or archived) and 403 disable the channel.
 *   slack+https://hooks.slack.com/services/T…/B…/SECRET
 */
import type { PaceRule } from "../../channel.ts";
import type { Notification } from "../../types.ts";
import { HttpChannel, type HttpRequest, type UrlChannelContext } from "../http.ts";
import type { SlackConfig } from "./config.ts";

/** Slack's limits: 50 blocks, 3000 characters in a section's text. */
function fitBlocks(blocks: unknown): unknown {
  if (!Array.isArray(blocks)) return blocks;
  return blocks.slice(0, 50).map((b) => {
    const text = (b as { text?: { text?: unknown } }).text;
    if (text && typeof text.text === "string" && text.text.length > 3000)
      return { ...b, text: { ...text, text: `${text.text.slice(0, 2999)}…` } };
    return b;
  });
}

export class SlackChannel extends HttpChannel {
  readonly service = "slack";

  constructor(
    ctx: UrlChannelContext,
    private readonly config: SlackConfig,
  ) {
    super(ctx);
  }

  render(n: Notification): HttpRequest[] {
    const doc = this.ctx.templates.renderJson("slack", n);
    if (doc.blocks) doc.blocks = fitBlocks(doc.blocks);
    return [{ url: this.config.endpoint, body: JSON.stringify(doc) }];
  }

  override pace(): PaceRule {
    return { minIntervalMs: 1_000 };
  }
}
