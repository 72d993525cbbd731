/** @jsxImportSource @kitajs/html */
/**
 * Admin-only pages: users, API tokens, audit log; and the alert channels page (viewers may
 * look; admins test, add, edit and delete, each change audited).
 */
import { Elysia } from "elysia";
import { AuditPage, type Flash, TokensPage, UsersPage } from "../../../templates/admin.tsx";
import { type ChannelNotice, ChannelsPage, EditChannelPage } from "../../../templates/channels.tsx";
import { createApiToken } from "../auth/api-tokens.ts";
import { createUser, isLastAdmin, isRole, UserError } from "../auth/users.ts";
import { type ChannelActor, ChannelChangeError, noChannels } from "./channels.ts";
import { type Auth, type Form, formText, type Web } from "./guard.ts";

const AUDIT_PAGE = 100;

export function adminRoutes(web: Web) {
  const store = web.store;
  const channels = web.deps.channels ?? noChannels;
  const usersPage = async (auth: Auth, request: Request, flash?: Flash, status = 200) =>
    web.html(
      <UsersPage
        ctx={web.pageContext(auth, request)}
        users={await store.auth.listUsers()}
        flash={flash}
        now={web.now()}
      />,
      status,
    );
  const channelsPage = async (
    auth: Auth,
    request: Request,
    o: { notice?: ChannelNotice; addError?: string } = {},
    status = 200,
  ) =>
    web.html(
      <ChannelsPage
        ctx={web.pageContext(auth, request)}
        channels={await channels.list()}
        now={web.now()}
        {...o}
      />,
      status,
    );
  const actor = (auth: Auth, request: Request): ChannelActor => ({
    actor: auth.user.name,
    sourceIp: web.address(request),
  });
  /** The channel a route names, or the 404 page. */
  const channelNamed = async (auth: Auth, request: Request, name: string) =>
    (await channels.list()).find((c) => c.name === name) ?? web.notFound(auth, request, "channel");
  const tokensPage = async (
    auth: Auth,
    request: Request,
    o: { flash?: Flash; created?: { name: string; token: string } } = {},
    status = 200,
  ) =>
    web.html(
      <TokensPage ctx={web.pageContext(auth, request)} tokens={await store.tokens.list()} {...o} />,
      status,
    );

  return new Elysia({ name: "web.admin" })
    .get("/channels", async ({ request }) => {
      const auth = await web.guard(request, "viewer");
      if (auth instanceof Response) return auth;
      return channelsPage(auth, request);
    })
    .post("/channels", async ({ request, body }) => {
      const form = (body ?? {}) as Form;
      const auth = await web.guard(request, "admin", form);
      if (auth instanceof Response) return auth;
      try {
        const name = await channels.add(formText(form, "url"), actor(auth, request));
        return channelsPage(auth, request, { notice: { kind: "ok", text: `Added ${name}.` } }, 201);
      } catch (e) {
        if (!(e instanceof ChannelChangeError)) throw e;
        return channelsPage(auth, request, { addError: e.message }, e.status);
      }
    })
    .post("/channels/:name/test", async ({ request, params, body }) => {
      const auth = await web.guard(request, "admin", (body ?? {}) as Form);
      if (auth instanceof Response) return auth;
      const channel = await channelNamed(auth, request, params.name);
      if (channel instanceof Response) return channel;
      const { name } = channel;
      let notice: ChannelNotice;
      try {
        await channels.sendTest(name);
        notice = { kind: "ok", text: `Test message sent through ${name}.` };
      } catch (e) {
        notice = { kind: "error", text: `${name} refused the test message: ${(e as Error).message}` };
      }
      await web.audit(auth.user.name, request, "channel.test", name, { ok: notice.kind === "ok" });
      return channelsPage(auth, request, { notice });
    })
    .get("/channels/:name/edit", async ({ request, params }) => {
      const auth = await web.guard(request, "admin");
      if (auth instanceof Response) return auth;
      const channel = await channelNamed(auth, request, params.name);
      if (channel instanceof Response) return channel;
      if (channel.origin !== "dashboard")
        return channelsPage(
          auth,
          request,
          {
            notice: {
              kind: "error",
              text: `${channel.name} comes from the server's options: change it there.`,
            },
          },
          400,
        );
      return web.html(<EditChannelPage ctx={web.pageContext(auth, request)} channel={channel} />);
    })
    .post("/channels/:name/edit", async ({ request, params, body }) => {
      const form = (body ?? {}) as Form;
      const auth = await web.guard(request, "admin", form);
      if (auth instanceof Response) return auth;
      const channel = await channelNamed(auth, request, params.name);
      if (channel instanceof Response) return channel;
      try {
        const name = await channels.edit(channel.name, formText(form, "url"), actor(auth, request));
        return channelsPage(auth, request, { notice: { kind: "ok", text: `Saved ${name}.` } });
      } catch (e) {
        if (!(e instanceof ChannelChangeError)) throw e;
        return web.html(
          <EditChannelPage ctx={web.pageContext(auth, request)} channel={channel} error={e.message} />,
          e.status,
        );
      }
    })
    .post("/channels/:name/delete", async ({ request, params, body }) => {
      const auth = await web.guard(request, "admin", (body ?? {}) as Form);
      if (auth instanceof Response) return auth;
      const channel = await channelNamed(auth, request, params.name);
      if (channel instanceof Response) return channel;
      try {
        await channels.remove(channel.name, actor(auth, request));
        return channelsPage(auth, request, { notice: { kind: "ok", text: `Deleted ${channel.name}.` } });
      } catch (e) {
        if (!(e instanceof ChannelChangeError)) throw e;
        return channelsPage(auth, request, { notice: { kind: "error", text: e.message } }, e.status);
      }
    })
    .get("/users", async ({ request }) => {
      const auth = await web.guard(request, "admin");
      if (auth instanceof Response) return auth;
      return usersPage(auth, request);
    })
    .post("/users", async ({ request, body }) => {
      const form = (body ?? {}) as Form;
      const auth = await web.guard(request, "admin", form);
      if (auth instanceof Response) return auth;
      const role = formText(form, "role");
      if (!isRole(role))
        return usersPage(auth, request, { kind: "error", text: "Choose admin or viewer." }, 400);
      try {
        const user = await createUser(
          store,
          { name: formText(form, "name").trim(), role, password: formText(form, "password") },
          web.now(),
        );
        await web.audit(auth.user.name, request, "user.add", user.name, { role });
        return usersPage(auth, request, { kind: "ok", text: `Added ${role} ${user.name}.` }, 201);
      } catch (e) {
        if (e instanceof UserError) return usersPage(auth, request, { kind: "error", text: e.message }, 400);
        throw e;
      }
    })
    .post("/users/:id/delete", async ({ request, params, body }) => {
      const auth = await web.guard(request, "admin", (body ?? {}) as Form);
      if (auth instanceof Response) return auth;
      const user = await store.auth.getUser(params.id);
      if (!user) return web.notFound(auth, request, "user");
      if (user.id === auth.user.id)
        return usersPage(auth, request, { kind: "error", text: "You cannot remove yourself." }, 400);
      if (await isLastAdmin(store, user))
        return usersPage(auth, request, { kind: "error", text: "The last admin cannot be removed." }, 400);
      await store.auth.removeUser(user.id);
      await web.audit(auth.user.name, request, "user.remove", user.name);
      return usersPage(auth, request, { kind: "ok", text: `Removed ${user.name}; their sessions ended.` });
    })
    .get("/tokens", async ({ request }) => {
      const auth = await web.guard(request, "admin");
      if (auth instanceof Response) return auth;
      return tokensPage(auth, request);
    })
    .post("/tokens", async ({ request, body }) => {
      const form = (body ?? {}) as Form;
      const auth = await web.guard(request, "admin", form);
      if (auth instanceof Response) return auth;
      const name = formText(form, "name").trim();
      const role = formText(form, "role");
      if (!isRole(role))
        return tokensPage(auth, request, { flash: { kind: "error", text: "Choose admin or viewer." } }, 400);
      if (!/^[\w.@-]{1,64}$/.test(name))
        return tokensPage(
          auth,
          request,
          {
            flash: {
              kind: "error",
              text: "A token name is 1 to 64 letters, digits, dots, dashes or underscores.",
            },
          },
          400,
        );
      if ((await store.tokens.list()).some((t) => t.name.toLowerCase() === name.toLowerCase()))
        return tokensPage(
          auth,
          request,
          { flash: { kind: "error", text: "A token with this name exists already." } },
          409,
        );
      const { record, token } = await createApiToken(store, name, role, web.now());
      await web.audit(auth.user.name, request, "token.add", record.name, { role, token_id: record.id });
      return tokensPage(auth, request, { created: { name: record.name, token } }, 201);
    })
    .post("/tokens/:id/revoke", async ({ request, params, body }) => {
      const auth = await web.guard(request, "admin", (body ?? {}) as Form);
      if (auth instanceof Response) return auth;
      const token = (await store.tokens.list()).find((t) => t.id === params.id);
      if (!token) return web.notFound(auth, request, "token");
      await store.tokens.revoke(token.id, web.now());
      await web.audit(auth.user.name, request, "token.revoke", token.name, { token_id: token.id });
      return tokensPage(auth, request, { flash: { kind: "ok", text: `Revoked ${token.name}.` } });
    })
    .get("/audit", async ({ request, query }) => {
      const auth = await web.guard(request, "admin");
      if (auth instanceof Response) return auth;
      const before = Number(query.before);
      const rows = await store.auth.listAudit({
        limit: AUDIT_PAGE + 1,
        ...(Number.isSafeInteger(before) && before > 0 ? { before } : {}),
      });
      const page = rows.slice(0, AUDIT_PAGE);
      const older = rows.length > AUDIT_PAGE ? `?before=${(page.at(-1) as { id: number }).id}` : null;
      return web.html(<AuditPage ctx={web.pageContext(auth, request)} entries={page} older={older} />);
    });
}
