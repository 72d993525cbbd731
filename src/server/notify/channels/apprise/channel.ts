/**
 * Apprise API (https://github.com/caronc/apprise-api): POST /notify/KEY with title, body
 * (Markdown) and a type by severity; the Apprise server fans out to every service configured
 * under that key. A 424 means some of those services failed while others got the message, so it
 * is not retried (that would repeat it to the others); the error shows in the channel status.
 * A 204 means the server has no configuration under KEY: nothing was sent, the channel stops.
 *   apprise+https://host[:port]/notify/KEY    (apprise+http:// for a LAN server)
 */
import type { ErrorClass, SendResult } from "../../channel.ts";
import type { Notification } from "../../types.ts";
import { HttpChannel, type HttpRequest, HttpStatusError, post, type UrlChannelContext } from "../http.ts";
import type { AppriseConfig } from "./config.ts";

const TYPE: Record<string, string> = { red: "failure", yellow: "warning", green: "success", info: "info" };

export class AppriseChannel extends HttpChannel {
  readonly service = "apprise";

  constructor(
    ctx: UrlChannelContext,
    private readonly config: AppriseConfig,
  ) {
    super(ctx);
  }

  render(n: Notification): HttpRequest[] {
    const t = this.ctx.templates;
    const body = {
      title: t.render("title", n),
      body: t.render("markdown", n),
      type: n.kind === "reminder" ? "failure" : (TYPE[n.kind === "digest" ? "info" : n.severity] ?? "info"),
      format: "markdown",
      ...(this.config.tag ? { tag: this.config.tag } : {}),
    };
    return [{ url: this.config.endpoint, body: JSON.stringify(body) }];
  }

  override async send(target: string, message: HttpRequest): Promise<SendResult> {
    if (target !== this.name) throw new Error(`apprise: unknown target ${target}`);
    const res = await post(this.service, message, this.ctx.requestTimeoutMs);
    // the Apprise API answers 204 when it has no configuration for the key: nothing was sent
    if (res.status === 204)
      throw new HttpStatusError(this.service, 204, "no configuration for this key", null);
    return {};
  }

  override classifyError(err: unknown): ErrorClass {
    if (err instanceof HttpStatusError && err.status === 204) return "disabled";
    if (err instanceof HttpStatusError && err.status === 424) return "permanent";
    return super.classifyError(err);
  }
}
