/**
 * Message templates (LiquidJS): one per format, overridable per format and per event kind with
 * --message-templates DIR. The defaults are embedded in the binary (templates/messages/*.liquid).
 *
 * Lookup for a kind K in format F: DIR/F/K.liquid, then DIR/F.liquid, then the built-in F.liquid.
 * Every `{{ value }}` is escaped for its format automatically (HTML, Markdown, Slack mrkdwn inside
 * JSON, Discord Markdown inside JSON); `| raw` opts out. A template that does not parse, fails to
 * render or (Slack, Discord) does not give JSON is logged and the built-in one is used instead:
 * a broken template never loses an alert.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { Liquid, type Template } from "liquidjs";
import discord from "../../../templates/messages/discord.liquid" with { type: "text" };
import html from "../../../templates/messages/html.liquid" with { type: "text" };
import markdown from "../../../templates/messages/markdown.liquid" with { type: "text" };
import slack from "../../../templates/messages/slack.liquid" with { type: "text" };
import telegram from "../../../templates/messages/telegram.liquid" with { type: "text" };
import text from "../../../templates/messages/text.liquid" with { type: "text" };
import title from "../../../templates/messages/title.liquid" with { type: "text" };
import type { Logger } from "../../cli/common.ts";
import { formatDuration } from "../../config/duration.ts";
import { EVENT_KINDS } from "../../protocol/events.ts";
import { formatTime } from "../local-time.ts";
import { escapeHtml as escapeTelegram } from "./channels/telegram/html.ts";
import { type MessageView, messageView, type RenderContext } from "./message-model.ts";
import type { Notification } from "./types.ts";

export const MESSAGE_FORMATS = ["title", "text", "markdown", "html", "slack", "discord", "telegram"] as const;
export type MessageFormat = (typeof MESSAGE_FORMATS)[number];

export const BUILT_IN: Record<MessageFormat, string> = {
  title,
  text,
  markdown,
  html,
  slack,
  discord,
  telegram,
};
export const TEMPLATE_KINDS: readonly string[] = [...EVENT_KINDS, "reminder", "digest", "test", "report"];

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] as string);
/** CommonMark's punctuation that can start markup inside a line; dots and dashes stay readable. */
const escapeMarkdown = (s: string) => s.replace(/[\\`*_[\]<>|~#]/g, "\\$&");
const escapeMrkdwn = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
/** The inside of a JSON string literal. */
const jsonString = (s: string) => JSON.stringify(s).slice(1, -1);

const ESCAPE: Record<MessageFormat, (s: string) => string> = {
  title: (s) => s,
  text: (s) => s,
  markdown: escapeMarkdown,
  html: escapeHtml,
  slack: (s) => jsonString(escapeMrkdwn(s)),
  discord: (s) => jsonString(escapeMarkdown(s)),
  telegram: escapeTelegram,
};

/** How a format marks an address as code (Telegram shows it monospaced and copies it on a tap). */
const CODE: Record<MessageFormat, (s: string) => string> = {
  title: (s) => s,
  text: (s) => s,
  markdown: (s) => `\`${s}\``,
  html: (s) => `<code>${s}</code>`,
  slack: (s) => `\`${s}\``,
  discord: (s) => `\`${s}\``,
  telegram: (s) => `<code>${s}</code>`,
};

/** An IPv4 or IPv6 address, optionally with a /prefix. */
function isAddress(word: string): boolean {
  const [ip, prefix, more] = word.split("/");
  return isIP(ip ?? "") !== 0 && more === undefined && (prefix === undefined || /^\d{1,3}$/.test(prefix));
}

/**
 * The `code_addresses` filter: the text escaped for the format, with every IP address in the
 * format's code markup. It escapes by itself, so templates write `{{ line | code_addresses | raw }}`.
 */
function codeAddresses(format: MessageFormat, text: string): string {
  return text
    .split(/([\s,()]+)/)
    .map((part, i) => {
      if (i % 2 === 1) return ESCAPE[format](part);
      const word = isAddress(part) ? part : part.replace(/[.:;]$/, "");
      return isAddress(word)
        ? CODE[format](ESCAPE[format](word)) + ESCAPE[format](part.slice(word.length))
        : ESCAPE[format](part);
    })
    .join("");
}

/** Text formats: blank lines the template's tags leave behind are squeezed out. */
function tidy(format: MessageFormat, out: string): string {
  if (format === "title") return out.replace(/\s+/g, " ").trim();
  if (format === "text" || format === "markdown" || format === "telegram")
    return out
      .split("\n")
      .map((l) => l.trimEnd())
      .join("\n")
      .replace(/\n{3,}/g, "\n\n")
      .trim();
  return out.trim();
}

/** A message no template could make: the headline and the reason, still delivered. */
function lastResort(format: MessageFormat, view: MessageView): string {
  const line = `${view.emoji} ${view.headline}${view.reason ? `: ${view.reason}` : ""}`;
  if (format === "slack") return JSON.stringify({ text: escapeMrkdwn(line) });
  if (format === "discord") return JSON.stringify({ content: escapeMarkdown(line).slice(0, 2000) });
  if (format === "telegram") return escapeTelegram(line);
  return format === "html" ? `<p>${escapeHtml(line)}</p>` : line;
}

function engineFor(format: MessageFormat, ctx: { timeZone: string }): Liquid {
  const engine = new Liquid({
    outputEscape: (v: unknown) => ESCAPE[format](String(v ?? "")),
    strictFilters: true,
    templates: {}, // no {% include %} / {% render %} from the disk
    cache: false,
  });
  engine.registerFilter("json", (v: unknown) => jsonString(String(v ?? "")));
  engine.registerFilter("time", (v: unknown) => (typeof v === "number" ? formatTime(v, ctx.timeZone) : ""));
  engine.registerFilter("duration", (v: unknown) => (typeof v === "number" ? formatDuration(v) : ""));
  engine.registerFilter("code_addresses", (v: unknown) => codeAddresses(format, String(v ?? "")));
  return engine;
}

export class MessageTemplates {
  private readonly engines: Record<MessageFormat, Liquid>;
  private readonly builtIn = new Map<MessageFormat, Template[]>();
  /** overrides: "F" (the format's default) and "F/KIND" */
  private readonly overrides = new Map<string, { source: string; template: Template[] }>();

  private constructor(
    private readonly ctx: RenderContext,
    private readonly logger: Pick<Logger, "error" | "info">,
  ) {
    this.engines = Object.fromEntries(MESSAGE_FORMATS.map((f) => [f, engineFor(f, ctx)])) as Record<
      MessageFormat,
      Liquid
    >;
    for (const f of MESSAGE_FORMATS) this.builtIn.set(f, this.engines[f].parse(BUILT_IN[f]));
  }

  /** The built-in templates plus the overrides found in `dir` (a broken one is logged and skipped). */
  static load(
    ctx: RenderContext,
    logger: Pick<Logger, "error" | "info">,
    dir: string | null = null,
  ): MessageTemplates {
    const t = new MessageTemplates(ctx, logger);
    if (dir) t.loadOverrides(dir);
    return t;
  }

  /** Which override files were loaded ("text", "html/bypass.started"). */
  overridden(): string[] {
    return [...this.overrides.keys()].sort();
  }

  private loadOverrides(dir: string): void {
    if (!existsSync(dir)) {
      this.logger.error(`--message-templates: ${dir} does not exist; using the built-in templates`);
      return;
    }
    const add = (key: string, format: MessageFormat, file: string) => {
      try {
        this.overrides.set(key, {
          source: file,
          template: this.engines[format].parse(readFileSync(file, "utf8")),
        });
      } catch (e) {
        this.logger.error(`message template ${file} is broken, the default is used: ${(e as Error).message}`);
      }
    };
    for (const format of MESSAGE_FORMATS) {
      const file = join(dir, `${format}.liquid`);
      if (existsSync(file)) add(format, format, file);
      const sub = join(dir, format);
      if (!existsSync(sub)) continue;
      for (const name of readdirSync(sub)) {
        const kind = name.replace(/\.liquid$/, "");
        if (!name.endsWith(".liquid") || !TEMPLATE_KINDS.includes(kind)) {
          this.logger.error(`message template ${join(sub, name)}: not <event kind>.liquid, ignored`);
          continue;
        }
        add(`${format}/${kind}`, format, join(sub, name));
      }
    }
    if (this.overrides.size)
      this.logger.info(`message templates overridden: ${this.overridden().join(", ")}`);
  }

  /** One notification in one format; text formats come back tidied. */
  render(format: MessageFormat, n: Notification): string {
    const view = messageView(n, this.ctx);
    const chosen = this.overrides.get(`${format}/${n.kind}`) ?? this.overrides.get(format);
    if (chosen) {
      try {
        return this.checked(format, this.run(format, chosen.template, view));
      } catch (e) {
        this.logger.error(
          `message template ${chosen.source} failed for ${n.kind}, the default is used: ${(e as Error).message}`,
        );
      }
    }
    try {
      return this.checked(format, this.run(format, this.builtIn.get(format) as Template[], view));
    } catch (e) {
      // the built-in templates are tested for every kind; this is the net under the net
      this.logger.error(`built-in ${format} template failed for ${n.kind}: ${(e as Error).message}`);
      return lastResort(format, view);
    }
  }

  /** Slack and Discord templates give JSON documents. */
  renderJson(format: "slack" | "discord", n: Notification): Record<string, unknown> {
    return JSON.parse(this.render(format, n)) as Record<string, unknown>;
  }

  private run(format: MessageFormat, template: Template[], view: MessageView): string {
    return tidy(format, this.engines[format].renderSync(template, view) as string);
  }

  private checked(format: MessageFormat, out: string): string {
    if (format === "slack" || format === "discord") {
      const doc = JSON.parse(out) as unknown; // throws: the caller falls back
      if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new Error("not a JSON object");
    }
    return out;
  }
}
