/**
 * A fake Telegram Bot API: a real local HTTP server (Bun.serve on 127.0.0.1, port 0) that speaks
 * `POST /bot<token>/<method>`, records every call per chat with its arrival time, and can be told
 * to answer a chat with 429 + retry_after, 500, 403, or to hang. getUpdates serves queued updates
 * (long polling, capped at 200 ms so bots stop quickly).
 */
import type { Update, UserFromGetMe } from "grammy/types";

export type FakeAnswer =
  | { kind: "ok" }
  | { kind: "429"; retryAfter: number }
  | { kind: "500" }
  | { kind: "403" }
  | { kind: "hang" };

export interface RecordedCall {
  method: string;
  token: string;
  chatId: string | null;
  params: Record<string, unknown>;
  /** Date.now() on arrival */
  at: number;
  /** what the fake answered: "ok" calls are the delivered messages */
  outcome: FakeAnswer["kind"];
}

export const FAKE_BOT_INFO = {
  id: 4242,
  is_bot: true as const,
  first_name: "Sentinel",
  username: "sentinel_test_bot",
  can_join_groups: true,
  can_read_all_group_messages: false,
  supports_inline_queries: false,
  can_connect_to_business: false,
  has_main_web_app: false,
  has_topics_enabled: false,
  allows_users_to_create_topics: false,
  can_manage_bots: false,
  supports_join_request_queries: false,
} satisfies UserFromGetMe;

export class FakeTelegram {
  readonly calls: RecordedCall[] = [];
  private readonly scripted = new Map<string, FakeAnswer[]>();
  private readonly sticky = new Map<string, FakeAnswer>();
  private readonly hung: (() => void)[] = [];
  private updates: Update[] = [];
  private nextUpdateId = 1;
  private messageId = 1;
  private server!: ReturnType<typeof Bun.serve>;

  static start(): FakeTelegram {
    const fake = new FakeTelegram();
    fake.server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => fake.handle(req) });
    return fake;
  }

  /** the apiRoot to give grammy */
  get url(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  /** The next answers for a chat's sendMessage calls, in order; afterwards "ok" (or the sticky answer). */
  script(chatId: number | string, ...answers: FakeAnswer[]): void {
    this.scripted.set(String(chatId), [...(this.scripted.get(String(chatId)) ?? []), ...answers]);
  }

  /** Answer every sendMessage to this chat the same way until cleared (null). */
  always(chatId: number | string, answer: FakeAnswer | null): void {
    if (answer) this.sticky.set(String(chatId), answer);
    else this.sticky.delete(String(chatId));
  }

  /** Messages the fake accepted (answered ok), optionally for one chat, in arrival order. */
  delivered(chatId?: number | string): RecordedCall[] {
    return this.calls.filter(
      (c) =>
        c.method === "sendMessage" &&
        c.outcome === "ok" &&
        (chatId === undefined || c.chatId === String(chatId)),
    );
  }

  sends(chatId?: number | string): RecordedCall[] {
    return this.calls.filter(
      (c) => c.method === "sendMessage" && (chatId === undefined || c.chatId === String(chatId)),
    );
  }

  /** Queue an update for getUpdates; returns its update_id. */
  pushUpdate(update: Omit<Update, "update_id">): number {
    const id = this.nextUpdateId++;
    this.updates.push({ ...update, update_id: id } as Update);
    return id;
  }

  /** A text message from `chatId` (a private chat when positive). */
  pushMessage(chatId: number, text: string, from = 1000): number {
    const entities = text.startsWith("/")
      ? [{ type: "bot_command" as const, offset: 0, length: text.split(/\s/)[0]?.length ?? 0 }]
      : undefined;
    return this.pushUpdate({
      message: {
        message_id: this.messageId++,
        date: Math.floor(Date.now() / 1000),
        chat:
          chatId > 0
            ? { id: chatId, type: "private", first_name: "User" }
            : { id: chatId, type: "supergroup", title: "Group" },
        from: { id: from, is_bot: false, first_name: "User" },
        text,
        ...(entities ? { entities } : {}),
      },
    });
  }

  /** Answers every hung call with 500 (the sender sees a failure; nothing was delivered). */
  releaseHung(): void {
    for (const release of this.hung.splice(0)) release();
  }

  async waitFor(predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > until) throw new Error("fake telegram: condition not met in time");
      await Bun.sleep(5);
    }
  }

  async stop(): Promise<void> {
    this.releaseHung();
    await this.server.stop(true);
  }

  private async handle(req: Request): Promise<Response> {
    const m = /^\/bot([^/]+)\/(\w+)$/.exec(new URL(req.url).pathname);
    if (!m) return Response.json({ ok: false, error_code: 404, description: "Not Found" }, { status: 404 });
    const [, token, method] = m as unknown as [string, string, string];
    const text = await req.text();
    const params = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
    const chatId = params.chat_id === undefined ? null : String(params.chat_id);
    const call: RecordedCall = { method, token, chatId, params, at: Date.now(), outcome: "ok" };
    this.calls.push(call);
    switch (method) {
      case "getMe":
        return ok(FAKE_BOT_INFO);
      case "getUpdates":
        return ok(await this.pollUpdates(params));
      case "deleteWebhook":
      case "setWebhook":
      case "answerCallbackQuery":
        return ok(true);
      case "sendMessage":
        return this.answerSend(call);
      default:
        return ok(true);
    }
  }

  private async answerSend(call: RecordedCall): Promise<Response> {
    const chat = call.chatId ?? "";
    const answer = this.scripted.get(chat)?.shift() ?? this.sticky.get(chat) ?? { kind: "ok" };
    call.outcome = answer.kind;
    switch (answer.kind) {
      case "429":
        return fail(429, `Too Many Requests: retry after ${answer.retryAfter}`, {
          retry_after: answer.retryAfter,
        });
      case "500":
        return fail(500, "Internal Server Error");
      case "403":
        return fail(403, "Forbidden: bot was blocked by the user");
      case "hang":
        await new Promise<void>((resolve) => this.hung.push(resolve));
        return fail(500, "Internal Server Error");
      case "ok":
        return ok({
          message_id: this.messageId++,
          date: Math.floor(call.at / 1000),
          chat: { id: Number(chat), type: Number(chat) < 0 ? "supergroup" : "private" },
          text: call.params.text,
        });
    }
  }

  private async pollUpdates(params: Record<string, unknown>): Promise<Update[]> {
    const offset = Number(params.offset ?? 0);
    const until = Date.now() + Math.min(200, Number(params.timeout ?? 0) * 1000);
    for (;;) {
      const due = this.updates.filter((u) => u.update_id >= offset);
      if (due.length || Date.now() >= until) return due.slice(0, Number(params.limit ?? 100));
      await Bun.sleep(10);
    }
  }
}

const ok = (result: unknown) => Response.json({ ok: true, result });
const fail = (code: number, description: string, parameters?: Record<string, unknown>) =>
  Response.json(
    { ok: false, error_code: code, description, ...(parameters ? { parameters } : {}) },
    { status: code },
  );
