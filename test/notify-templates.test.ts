/**
 * Message templates: every built-in template renders every kind without falling back, JSON
 * formats give valid JSON, each format escapes for itself, --message-templates overrides any
 * of them, and a broken override falls back to the default with a logged error.
 */
import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createConsola } from "consola";
import { messageView } from "../src/server/notify/message-model.ts";
import { MESSAGE_FORMATS, MessageTemplates } from "../src/server/notify/templates.ts";
import { EVERY_KIND, sample } from "./helpers/notify.ts";
import { tempDir } from "./helpers/server.ts";

function recordingLogger() {
  const errors: string[] = [];
  const logger = createConsola({
    level: 5,
    reporters: [{ log: (o) => o.type === "error" && errors.push(String(o.args[0])) }],
  });
  return { logger, errors };
}

const CTX = { publicUrl: "https://sentinel.example", timeZone: "Europe/Berlin" };

describe("built-in templates", () => {
  test("every format renders every kind, with and without a public URL, without an error", () => {
    const { logger, errors } = recordingLogger();
    for (const publicUrl of ["https://sentinel.example", null]) {
      const t = MessageTemplates.load({ ...CTX, publicUrl }, logger);
      for (const kind of EVERY_KIND)
        for (const format of MESSAGE_FORMATS) {
          const out = t.render(format, sample(kind));
          expect(out.length).toBeGreaterThan(0);
          if (format === "slack" || format === "discord") expect(() => JSON.parse(out)).not.toThrow();
          if (format === "title") expect(out).not.toContain("\n");
        }
    }
    expect(errors).toEqual([]);
  });

  test("each format escapes dynamic values for itself", () => {
    const t = MessageTemplates.load(CTX, createConsola({ level: -999 }));
    const n = sample("bypass.started", {
      client: { id: "c1", name: `<img src=x onerror=alert(1)> *b* & "q"` },
    });
    expect(t.render("html", n)).toContain("&lt;img src=x onerror=alert(1)&gt; *b* &amp; &quot;q&quot;");
    expect(t.render("html", n)).not.toContain("<img");
    expect(t.render("markdown", { ...n, kind: "digest", items: [n] })).toContain(
      "\\<img src=x onerror=alert(1)\\> \\*b\\*",
    );
    const slack = JSON.parse(t.render("slack", n));
    expect(slack.blocks[0].text.text).toContain('&lt;img src=x onerror=alert(1)&gt; *b* &amp; "q"');
    const discord = JSON.parse(t.render("discord", n));
    expect(discord.embeds[0].title).toContain("\\<img src=x onerror=alert(1)\\> \\*b\\*");
    expect(t.render("text", n)).toContain('Traffic leaves through "home" & <more>.');
    expect(t.render("title", n)).toBe(`🔴 <img src=x onerror=alert(1)> *b* & "q" traffic bypasses the VPN`);
  });

  test("times follow --notify-timezone", () => {
    const t = MessageTemplates.load(CTX, createConsola({ level: -999 }));
    expect(t.render("text", sample("client.offline"))).toContain("At 2026-11-18 13:00 GMT+1");
  });
});

describe("--message-templates DIR", () => {
  test("a format file replaces the default; a kind file wins over it; others stay built-in", () => {
    const dir = tempDir();
    mkdirSync(join(dir.path, "title"));
    writeFileSync(join(dir.path, "title.liquid"), "[{{ severity }}] {{ headline }}");
    writeFileSync(
      join(dir.path, "title", "bypass.started.liquid"),
      "LEAK at {{ at | time }}: {{ client.name }}",
    );
    writeFileSync(join(dir.path, "text.liquid"), "{{ reason }} ({{ facts.downtimeMs | duration }})");
    const { logger, errors } = recordingLogger();
    const t = MessageTemplates.load(CTX, logger, dir.path);
    expect(t.overridden()).toEqual(["text", "title", "title/bypass.started"]);
    expect(t.render("title", sample("client.offline"))).toBe("[red] laptop <b>&</b> *x* is offline");
    expect(t.render("title", sample("bypass.started"))).toBe(
      "LEAK at 2026-11-18 13:00 GMT+1: laptop <b>&</b> *x*",
    );
    expect(t.render("text", sample("client.online"))).toBe(
      'Traffic leaves through "home" & <more>. (12m34s)',
    );
    expect(t.render("html", sample("client.online"))).toContain("<h2");
    expect(errors).toEqual([]);
    dir.remove();
  });

  test("a broken template falls back to the default with a logged error: the alert is never lost", () => {
    const dir = tempDir();
    mkdirSync(join(dir.path, "text"));
    writeFileSync(join(dir.path, "title.liquid"), "{% if kind %}unclosed");
    writeFileSync(join(dir.path, "html.liquid"), "{{ reason | no_such_filter }}");
    writeFileSync(join(dir.path, "slack.liquid"), '{ "text": "{{ headline }}", oops }');
    writeFileSync(join(dir.path, "text", "no.such.kind.liquid"), "x");
    writeFileSync(
      join(dir.path, "text", "client.offline.liquid"),
      "{{ items | first | map: 'x' | join }}{% raise %}",
    );
    const { logger, errors } = recordingLogger();
    const t = MessageTemplates.load(CTX, logger, dir.path);
    const builtIn = MessageTemplates.load(CTX, createConsola({ level: -999 }));
    const n = sample("client.offline");
    for (const format of ["title", "html", "slack", "text"] as const)
      expect(t.render(format, n)).toBe(builtIn.render(format, n));
    const log = errors.join("\n");
    expect(log).toContain("title.liquid is broken, the default is used");
    expect(log).toContain("html.liquid is broken");
    expect(log).toContain("slack.liquid failed for client.offline, the default is used");
    expect(log).toContain("no.such.kind.liquid: not <event kind>.liquid, ignored");
    dir.remove();
  });
});

test("docs/alerts.md documents every template variable", async () => {
  const doc = await Bun.file(join(import.meta.dir, "../docs/alerts.md")).text();
  const section = doc.slice(doc.indexOf("### Template variables"));
  for (const key of Object.keys(messageView(sample("digest"), CTX)))
    expect(section.includes(`\`${key}\``) || section.includes(`\`${key}[]\``)).toBe(true);
  for (const key of ["time", "duration", "json", "raw"]) expect(section).toContain(`\`${key}\``);
});
