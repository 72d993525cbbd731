/**
 * ntfy (https://ntfy.sh, or self-hosted): JSON publishing, POST to the server root with the
 * topic in the body. Priority follows severity (red 5 = urgent, yellow 4, resolved 3, info 2),
 * `click` opens the client's dashboard page. Auth: user:pass in the URL (Basic) or ?token=
 * (an access token, Bearer).
 *   ntfy://[user:pass@]host[:port]/topic    ntfys://… for https
 */
import { dashboardUrl } from "../../message-model.ts";
import type { Notification } from "../../types.ts";
import { HttpChannel, type HttpRequest, type UrlChannelContext } from "../http.ts";
import type { NtfyConfig } from "./config.ts";

const PRIORITY: Record<string, number> = { red: 5, yellow: 4, green: 3, info: 2 };

export class NtfyChannel extends HttpChannel {
  readonly service = "ntfy";

  constructor(
    ctx: UrlChannelContext,
    private readonly config: NtfyConfig,
  ) {
    super(ctx);
  }

  render(n: Notification): HttpRequest[] {
    const t = this.ctx.templates;
    const click = dashboardUrl(n, this.ctx.publicUrl);
    const body = {
      topic: this.config.topic,
      title: t.render("title", n),
      message: t.render("text", n),
      priority: n.kind === "reminder" ? 4 : n.kind === "digest" ? 3 : (PRIORITY[n.severity] ?? 3),
      tags: ["vpn-sentinel", n.kind],
      ...(click ? { click } : {}),
    };
    return [
      {
        url: this.config.endpoint,
        body: JSON.stringify(body),
        ...(this.config.auth ? { headers: { authorization: this.config.auth } } : {}),
      },
    ];
  }
}
