/**
 * Webhooks signed per the Standard Webhooks spec (https://www.standardwebhooks.com): a JSON
 * event `{type, timestamp, data}` with the headers webhook-id (the same on every retry of one
 * notification, so a receiver drops repeats), webhook-timestamp (seconds, fresh per attempt)
 * and webhook-signature (`v1,<base64 HMAC-SHA256>` over id.timestamp.body, by the
 * `standardwebhooks` library). Without ?secret= the event goes out unsigned (a LAN receiver).
 * 410 Gone disables the channel, as the spec asks of senders.
 *   webhook+https://host/path?secret=whsec_…    webhook+http://… for a LAN receiver
 */
import type { Webhook } from "standardwebhooks";
import { dashboardUrl } from "../../message-model.ts";
import type { Notification } from "../../types.ts";
import { HttpChannel, type HttpRequest, post, type UrlChannelContext } from "../http.ts";
import type { WebhookConfig } from "./config.ts";

export interface WebhookMessage extends HttpRequest {
  id: string;
}

/** A stable message id from the outbox row's idempotency key (random for one-off test sends). */
function messageId(key: string | undefined): string {
  if (!key) return `msg_${crypto.randomUUID().replaceAll("-", "")}`;
  return `msg_${new Bun.CryptoHasher("sha256").update(key).digest("hex").slice(0, 32)}`;
}

/** The event's data: the notification as stored, plus the rendered title and text. */
export function webhookEvent(n: Notification, extra: { title: string; text: string; url: string | null }) {
  return {
    type: n.kind,
    timestamp: new Date(n.at).toISOString(),
    data: {
      kind: n.kind,
      severity: n.severity,
      event_id: n.eventId,
      client: n.client,
      from: n.from,
      to: n.to,
      at: n.at,
      title: extra.title,
      text: extra.text,
      url: extra.url,
      evidence: n.evidence,
      facts: n.facts,
      ...(n.items ? { items: n.items } : {}),
    },
  };
}

export class WebhookChannel extends HttpChannel {
  readonly service = "webhook";
  private signer: Promise<Webhook> | null = null;

  constructor(
    ctx: UrlChannelContext,
    private readonly config: WebhookConfig,
  ) {
    super(ctx);
  }

  private sign(id: string, at: Date, body: string): Promise<string> | null {
    const secret = this.config.secret;
    if (!secret) return null;
    this.signer ??= import("standardwebhooks").then(({ Webhook }) => new Webhook(secret));
    return this.signer.then((s) => s.sign(id, at, body));
  }

  render(n: Notification, _target: string, meta?: { key?: string }): WebhookMessage[] {
    const t = this.ctx.templates;
    const event = webhookEvent(n, {
      title: t.render("title", n),
      text: t.render("text", n),
      url: dashboardUrl(n, this.ctx.publicUrl),
    });
    return [{ id: messageId(meta?.key), url: this.config.endpoint, body: JSON.stringify(event) }];
  }

  override async send(target: string, message: HttpRequest) {
    if (target !== this.name) throw new Error(`webhook: unknown target ${target}`);
    const { id } = message as WebhookMessage;
    const now = new Date();
    const headers: Record<string, string> = {
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
      "user-agent": "vpn-sentinel",
    };
    const signature = await this.sign(id, now, message.body);
    if (signature) headers["webhook-signature"] = signature;
    await post(this.service, { ...message, headers }, this.ctx.requestTimeoutMs);
    return { messageId: id };
  }
}
