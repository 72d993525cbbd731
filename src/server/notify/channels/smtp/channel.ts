/**
 * Email over SMTP (nodemailer): one message per alert or digest, plain text plus HTML, subject
 * from the `title` template. smtp:// upgrades with STARTTLS whenever the server offers it
 * (?starttls=required refuses to send otherwise); smtps:// is TLS from the first byte.
 * Errors: a 5xx answer (bad credentials 535, unknown mailbox 550, refused 554) or a server that
 * does not offer the required STARTTLS disables the channel; 4xx and connection failures are
 * retried with backoff.
 *   smtp://[user:pass@]host[:port]/?from=alerts@example.org&to=me@example.org,you@example.org
 */
import type { Transporter } from "nodemailer";
import type { Channel, ErrorClass, PaceRule, SendResult } from "../../channel.ts";
import { type RouteCandidate, routeMatches } from "../../filter.ts";
import type { Notification } from "../../types.ts";
import type { UrlChannelContext } from "../http.ts";
import type { SmtpConfig } from "./config.ts";

export interface EmailMessage {
  subject: string;
  text: string;
  html: string;
}

interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
}

export class SmtpChannel implements Channel<EmailMessage> {
  readonly name: string;
  private transporter: Promise<Transporter> | null = null;

  constructor(
    private readonly ctx: UrlChannelContext,
    private readonly config: SmtpConfig,
    /** extra trust for the server's certificate (tests: a private CA) */
    private readonly tls: { ca?: string } = {},
  ) {
    this.name = ctx.name;
  }

  /** nodemailer is loaded with the first mail: a server without an email channel never pays for it. */
  private transport(): Promise<Transporter> {
    const { config, ctx, tls } = this;
    this.transporter ??= import("nodemailer").then(({ default: nodemailer }) =>
      nodemailer.createTransport({
        host: config.host,
        port: config.port,
        secure: config.secure,
        requireTLS: config.starttls === "required",
        ...(config.user ? { auth: { user: config.user, pass: config.pass ?? "" } } : {}),
        connectionTimeout: ctx.requestTimeoutMs,
        greetingTimeout: ctx.requestTimeoutMs,
        socketTimeout: ctx.requestTimeoutMs,
        ...(tls.ca ? { tls: { ca: tls.ca } } : {}),
      }),
    );
    return this.transporter;
  }

  targets(): string[] {
    return [this.name];
  }

  validateConfig(): string[] {
    return [];
  }

  accepts(_target: string, c: RouteCandidate): boolean {
    return routeMatches(this.ctx.filter, c);
  }

  render(n: Notification): EmailMessage[] {
    const t = this.ctx.templates;
    return [{ subject: t.render("title", n), text: t.render("text", n), html: t.render("html", n) }];
  }

  async send(target: string, message: EmailMessage): Promise<SendResult> {
    if (target !== this.name) throw new Error(`smtp: unknown target ${target}`);
    const transport = await this.transport();
    const info = await transport.sendMail({
      from: this.config.from,
      to: this.config.to,
      subject: message.subject,
      text: message.text,
      html: message.html,
      headers: { "Auto-Submitted": "auto-generated" },
    });
    return { messageId: info.messageId };
  }

  classifyError(err: unknown): ErrorClass {
    const e = err as SmtpError;
    if (typeof e?.responseCode === "number") return e.responseCode >= 500 ? "disabled" : "retryable";
    if (e?.code === "ETLS" || e?.code === "EAUTH") return "disabled";
    return "retryable";
  }

  pace(): PaceRule {
    return { minIntervalMs: 0 };
  }

  describeError(err: unknown): string {
    const e = err as SmtpError;
    if (typeof e?.responseCode === "number")
      return `smtp ${e.responseCode}: ${(e.response ?? e.message).replace(/\s+/g, " ").slice(0, 200)}`;
    if (e?.code) return `smtp ${e.code}: ${e.message.replace(/\s+/g, " ").slice(0, 200)}`;
    return e?.message ?? String(err);
  }

  async stop(): Promise<void> {
    const transport = this.transporter;
    this.transporter = null;
    if (transport) (await transport).close();
  }
}
