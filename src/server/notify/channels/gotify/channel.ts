/**
 * Gotify: POST <base>/message with the application token in X-Gotify-Key. The message is
 * Markdown (extras client::display), priority follows severity (red 8, yellow 5, resolved 3,
 * info 2), and a click on the notification opens the dashboard (extras client::notification).
 *   gotify://host[:port][/path]/APP_TOKEN    gotifys://… for https
 */
import { dashboardUrl } from "../../message-model.ts";
import type { Notification } from "../../types.ts";
import { HttpChannel, type HttpRequest, type UrlChannelContext } from "../http.ts";
import type { GotifyConfig } from "./config.ts";

const PRIORITY: Record<string, number> = { red: 8, yellow: 5, green: 3, info: 2 };

export class GotifyChannel extends HttpChannel {
  readonly service = "gotify";

  constructor(
    ctx: UrlChannelContext,
    private readonly config: GotifyConfig,
  ) {
    super(ctx);
  }

  render(n: Notification): HttpRequest[] {
    const t = this.ctx.templates;
    const click = dashboardUrl(n, this.ctx.publicUrl);
    const body = {
      title: t.render("title", n),
      message: t.render("markdown", n),
      priority: n.kind === "reminder" ? 8 : n.kind === "digest" ? 5 : (PRIORITY[n.severity] ?? 5),
      extras: {
        "client::display": { contentType: "text/markdown" },
        ...(click ? { "client::notification": { click: { url: click } } } : {}),
      },
    };
    return [
      {
        url: this.config.endpoint,
        body: JSON.stringify(body),
        headers: { "x-gotify-key": this.config.token },
      },
    ];
  }
}
