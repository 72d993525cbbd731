/**
 * Fake notification services: real local HTTP servers (Bun.serve on 127.0.0.1, port 0) that
 * check each request the way the real service documents it and answer like it:
 *   ntfy     POST /            JSON publish (docs.ntfy.sh/publish, "Publish as JSON")
 *   gotify   POST /message     X-Gotify-Key app token (gotify.net/api-docs, MessageExternal)
 *   discord  POST /api/webhooks/ID/TOKEN   execute webhook, embed limits (discord.com/developers/docs/resources/webhook)
 *   slack    POST /services/T/B/SECRET     incoming webhook with text/blocks (api.slack.com/messaging/webhooks)
 *   apprise  POST /notify/KEY  Apprise API stateful notify (body, title, type, format)
 *   webhook  POST /hook        Standard Webhooks, verified with the `standardwebhooks` library
 * A payload the service would refuse gets its 400; a wrong secret its 401/404. Answers can be
 * scripted per test: `fake.script({ status: 429, headers: { "retry-after": "2" } })` answers the
 * next request so, `fake.always(...)` every request until `fake.always(null)`. The lab runs
 * the same fakes on its own addresses (`listen`) and logs what they accept (`onRecord`).
 */
import { Webhook } from "standardwebhooks";

export interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: unknown;
  raw: string;
  at: number;
  status: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

type Check = (req: Recorded) => Answer | null;

export interface Listen {
  hostname: string;
  port: number;
}
const LOOPBACK: Listen = { hostname: "127.0.0.1", port: 0 };

export class FakeService {
  readonly requests: Recorded[] = [];
  private readonly scripted: Answer[] = [];
  private sticky: Answer | null = null;
  private server!: ReturnType<typeof Bun.serve>;
  /** called with every request once answered */
  onRecord: ((r: Recorded) => void) | null = null;

  private constructor(
    readonly kind: string,
    private readonly check: Check,
    private readonly ok: (req: Recorded) => Answer,
  ) {}

  static start(
    kind: string,
    check: Check,
    ok: (req: Recorded) => Answer = () => ({ status: 200, body: "ok" }),
    listen: Listen = LOOPBACK,
  ) {
    const fake = new FakeService(kind, check, ok);
    fake.server = Bun.serve({ ...listen, fetch: (req) => fake.handle(req) });
    return fake;
  }

  get host(): string {
    return `127.0.0.1:${this.server.port}`;
  }

  /** requests the fake accepted (2xx), i.e. delivered notifications */
  delivered(): Recorded[] {
    return this.requests.filter((r) => r.status >= 200 && r.status < 300);
  }

  script(...answers: Answer[]): void {
    this.scripted.push(...answers);
  }

  always(answer: Answer | null): void {
    this.sticky = answer;
  }

  async waitFor(cond: () => boolean, ms = 3_000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`${this.kind} fake: condition not met within ${ms} ms`);
      await Bun.sleep(5);
    }
  }

  async stop(): Promise<void> {
    await this.server.stop(true);
  }

  private async handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const raw = await req.text();
    let body: unknown = raw;
    if ((req.headers.get("content-type") ?? "").includes("json"))
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
    const rec: Recorded = {
      method: req.method,
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
      raw,
      at: Date.now(),
      status: 0,
    };
    const answer = this.scripted.shift() ?? this.sticky ?? this.check(rec) ?? this.ok(rec);
    rec.status = answer.status;
    this.requests.push(rec);
    this.onRecord?.(rec);
    return new Response(answer.body ?? "", { status: answer.status, headers: answer.headers });
  }
}

const bad = (status: number, body: string): Answer => ({ status, body });
const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const optString = (v: unknown) => v === undefined || typeof v === "string";
const isUrl = (v: unknown) => typeof v === "string" && URL.canParse(v) && /^https?:/.test(v);

/** ntfy: topic required ([-_A-Za-z0-9]{1,64}), priority 1-5, tags strings, click a URL; auth if configured. */
export function fakeNtfy(opts: { auth?: string; listen?: Listen } = {}) {
  return FakeService.start(
    "ntfy",
    (r) => {
      if (r.method !== "POST" || r.path !== "/") return bad(404, '{"code":40401,"error":"page not found"}');
      if (opts.auth && r.headers.get("authorization") !== opts.auth)
        return bad(403, '{"code":40301,"http":403,"error":"forbidden"}');
      const b = r.body;
      if (!isObj(b) || typeof b.topic !== "string" || !/^[-_A-Za-z0-9]{1,64}$/.test(b.topic))
        return bad(400, '{"code":40009,"error":"invalid request: topic invalid"}');
      if (!optString(b.message) || !optString(b.title)) return bad(400, '{"error":"invalid request"}');
      if (
        b.priority !== undefined &&
        !(Number.isInteger(b.priority) && (b.priority as number) >= 1 && (b.priority as number) <= 5)
      )
        return bad(400, '{"code":40007,"error":"invalid priority"}');
      if (b.tags !== undefined && !(Array.isArray(b.tags) && b.tags.every((t) => typeof t === "string")))
        return bad(400, '{"error":"invalid tags"}');
      if (b.click !== undefined && !isUrl(b.click)) return bad(400, '{"error":"invalid click URL"}');
      return null;
    },
    (r) => ({
      status: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        id: crypto.randomUUID().slice(0, 12),
        event: "message",
        topic: (r.body as { topic: string }).topic,
      }),
    }),
    opts.listen,
  );
}

/** Gotify: app token in X-Gotify-Key (or ?token=), message required, priority an integer, extras an object. */
export function fakeGotify(token: string, base = "") {
  return FakeService.start(
    "gotify",
    (r) => {
      if (r.method !== "POST" || r.path !== `${base}/message`) return bad(404, '{"error":"Not Found"}');
      if ((r.headers.get("x-gotify-key") ?? r.query.get("token")) !== token)
        return bad(
          401,
          '{"error":"Unauthorized","errorCode":401,"errorDescription":"you need to provide a valid access token"}',
        );
      const b = r.body;
      if (!isObj(b) || typeof b.message !== "string" || !b.message)
        return bad(
          400,
          '{"error":"Bad Request","errorCode":400,"errorDescription":"Field \'message\' is required"}',
        );
      if (!optString(b.title) || (b.priority !== undefined && !Number.isInteger(b.priority)))
        return bad(400, '{"error":"Bad Request","errorCode":400}');
      if (b.extras !== undefined && !isObj(b.extras))
        return bad(400, '{"error":"Bad Request","errorCode":400}');
      return null;
    },
    (r) => ({
      status: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: 1, ...(r.body as object) }),
    }),
  );
}

/** Discord: execute webhook; content or embeds; embed limits as documented; 401/404 for a wrong token or id. */
export function fakeDiscord(id: string, token: string) {
  return FakeService.start(
    "discord",
    (r) => {
      const m = /^\/api\/webhooks\/(\d+)\/([\w-]+)$/.exec(r.path);
      if (r.method !== "POST" || !m) return bad(404, '{"message":"404: Not Found","code":0}');
      if (m[1] !== id) return bad(404, '{"message":"Unknown Webhook","code":10015}');
      if (m[2] !== token) return bad(401, '{"message":"Invalid Webhook Token","code":50027}');
      const b = r.body;
      if (!isObj(b)) return bad(400, '{"message":"Cannot send an empty message","code":50006}');
      const embeds = b.embeds;
      if (!b.content && !(Array.isArray(embeds) && embeds.length))
        return bad(400, '{"message":"Cannot send an empty message","code":50006}');
      if (typeof b.content === "string" && b.content.length > 2000)
        return bad(400, '{"content":["Must be 2000 or fewer in length."]}');
      if (Array.isArray(embeds)) {
        if (embeds.length > 10) return bad(400, '{"embeds":["Must be 10 or fewer in length."]}');
        let total = 0;
        for (const e of embeds as Record<string, unknown>[]) {
          if (typeof e.title === "string" && e.title.length > 256)
            return bad(400, '{"embeds":{"0":{"title":"too long"}}}');
          if (typeof e.description === "string" && e.description.length > 4096)
            return bad(400, '{"embeds":{"0":{"description":"too long"}}}');
          if (
            e.color !== undefined &&
            !(Number.isInteger(e.color) && (e.color as number) >= 0 && (e.color as number) <= 0xffffff)
          )
            return bad(400, '{"embeds":{"0":{"color":"invalid"}}}');
          if (e.url !== undefined && !isUrl(e.url))
            return bad(400, '{"embeds":{"0":{"url":"Not a well formed URL."}}}');
          if (e.timestamp !== undefined && Number.isNaN(Date.parse(String(e.timestamp))))
            return bad(400, '{"embeds":{"0":{"timestamp":"invalid"}}}');
          const fields = (e.fields ?? []) as { name?: unknown; value?: unknown }[];
          if (!Array.isArray(fields) || fields.length > 25)
            return bad(400, '{"embeds":{"0":{"fields":"Must be 25 or fewer in length."}}}');
          for (const f of fields) {
            if (typeof f.name !== "string" || !f.name || f.name.length > 256)
              return bad(400, '{"embeds":{"0":{"fields":"name"}}}');
            if (typeof f.value !== "string" || !f.value || f.value.length > 1024)
              return bad(400, '{"embeds":{"0":{"fields":"value"}}}');
            total += f.name.length + f.value.length;
          }
          total += String(e.title ?? "").length + String(e.description ?? "").length;
        }
        if (total > 6000) return bad(400, '{"embeds":["Embed size exceeds maximum size of 6000"]}');
      }
      return null;
    },
    () => ({ status: 200, headers: { "content-type": "application/json" }, body: '{"id":"1","type":0}' }),
  );
}

/** Slack: text or blocks; ≤50 blocks, each typed, section text ≤3000; 404 no_service for a wrong URL. */
export function fakeSlack(path: string) {
  return FakeService.start("slack", (r) => {
    if (r.method !== "POST" || r.path !== path) return bad(404, "no_service");
    const b = r.body;
    if (!isObj(b) || (typeof b.text !== "string" && !Array.isArray(b.blocks)))
      return bad(400, "invalid_payload");
    if (Array.isArray(b.blocks)) {
      if (b.blocks.length > 50) return bad(400, "invalid_blocks");
      for (const block of b.blocks as Record<string, unknown>[]) {
        if (!isObj(block) || typeof block.type !== "string") return bad(400, "invalid_blocks");
        const text = block.text as { type?: unknown; text?: unknown } | undefined;
        if (
          block.type === "section" &&
          (!text || typeof text.text !== "string" || text.text.length > 3000 || !text.text)
        )
          return bad(400, "invalid_blocks");
        if (text && text.type !== "mrkdwn" && text.type !== "plain_text") return bad(400, "invalid_blocks");
      }
    }
    return null;
  });
}

/** Apprise API: POST /notify/KEY, body required, type and format from the documented sets. */
export function fakeApprise(key: string) {
  return FakeService.start("apprise", (r) => {
    const m = /^\/notify\/([\w-]+)\/?$/.exec(r.path);
    if (r.method !== "POST" || !m) return bad(404, "Not Found");
    if (m[1] !== key) return bad(204, "");
    const b = r.body;
    if (!isObj(b) || typeof b.body !== "string" || !b.body) return bad(400, "An empty body was specified.");
    if (b.type !== undefined && !["info", "success", "warning", "failure"].includes(String(b.type)))
      return bad(400, "An invalid type was specified.");
    if (b.format !== undefined && !["text", "markdown", "html"].includes(String(b.format)))
      return bad(400, "An invalid format was specified.");
    return null;
  });
}

/** A Standard Webhooks receiver: verifies every request with the reference library, 401 when it fails. */
export function fakeWebhookReceiver(secret: string, listen?: Listen) {
  const wh = new Webhook(secret);
  return FakeService.start(
    "webhook",
    (r) => {
      if (r.method !== "POST" || r.path !== "/hook") return bad(404, "not found");
      try {
        wh.verify(r.raw, {
          "webhook-id": r.headers.get("webhook-id") ?? "",
          "webhook-timestamp": r.headers.get("webhook-timestamp") ?? "",
          "webhook-signature": r.headers.get("webhook-signature") ?? "",
        });
      } catch (e) {
        return bad(401, (e as Error).message);
      }
      return null;
    },
    undefined,
    listen,
  );
}
