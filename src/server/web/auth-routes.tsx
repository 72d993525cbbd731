/** @jsxImportSource @kitajs/html */
/** Sign-in, sign-out, first-run setup and the own-account page. */
import { Elysia } from "elysia";
import { AccountPage } from "../../../templates/admin.tsx";
import { LoginPage, SetupPage } from "../../../templates/login.tsx";
import { newCsrfToken, tokensEqual } from "../auth/csrf.ts";
import {
  endSession,
  loginCookieName,
  SESSION_MAX_MS,
  sessionCookieName,
  startSession,
} from "../auth/sessions.ts";
import {
  changePassword,
  consumeSetupToken,
  createUser,
  DEFAULT_LOGIN_POLICY,
  LoginGuard,
  setupTokenValid,
  UserError,
} from "../auth/users.ts";
import type { UserRecord } from "../store/index.ts";
import { ASSET_URLS } from "./assets.ts";
import { cookieHeader, type Form, formText, parseCookies, safeNext, type Web } from "./guard.ts";

export function authRoutes(web: Web) {
  const logins = new LoginGuard(web.store, () => web.now(), web.deps.loginPolicy ?? DEFAULT_LOGIN_POLICY);

  const sessionCookie = async (request: Request, user: UserRecord) => {
    const { cookieValue } = await startSession(web.store, user, web.address(request), web.now());
    const secure = web.secure(request);
    return cookieHeader(sessionCookieName(secure), cookieValue, {
      secure,
      maxAgeS: SESSION_MAX_MS / 1000,
      sameSite: "Lax",
    });
  };

  const loginForm = (
    request: Request,
    o: {
      status?: number;
      error?: string;
      name?: string;
      next?: string;
      headers?: Record<string, string>;
    } = {},
  ) => {
    // Double-submit token: the login form has no session yet, so it is bound to a short-lived cookie.
    const secure = web.secure(request);
    const token = newCsrfToken();
    const next = safeNext(o.next ?? new URL(request.url).searchParams.get("next"));
    return web.html(
      <LoginPage assets={ASSET_URLS} token={token} next={next} error={o.error} name={o.name} />,
      o.status ?? 200,
      {
        "set-cookie": cookieHeader(loginCookieName(secure), token, {
          secure,
          maxAgeS: 3600,
          sameSite: "Strict",
        }),
        ...o.headers,
      },
    );
  };

  return new Elysia({ name: "web.auth" })
    .get("/login", async ({ request }) =>
      (await web.session(request)) ? web.redirect("/") : loginForm(request),
    )
    .post("/login", async ({ request, body }) => {
      const form = (body ?? {}) as Form;
      const name = formText(form, "name").trim().slice(0, 64);
      const next = formText(form, "next");
      const cookies = parseCookies(request.headers.get("cookie"));
      if (
        !web.sameOrigin(request) ||
        !tokensEqual(cookies[loginCookieName(web.secure(request))], formText(form, "_csrf"))
      )
        return loginForm(request, {
          status: 403,
          error: "The sign-in form expired. Please try again.",
          name,
          next,
        });
      const result = await logins.attempt(name, formText(form, "password"), web.address(request));
      if (!result.ok) {
        await web.audit(name || "(empty)", request, "login.failed", null, { reason: result.reason });
        if (result.reason === "invalid")
          return loginForm(request, { status: 401, error: "Wrong user name or password.", name, next });
        const minutes = Math.max(1, Math.ceil((result.retryAfterS ?? 60) / 60));
        return loginForm(request, {
          status: 429,
          error: `Too many attempts. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`,
          name,
          next,
          headers: { "retry-after": String(result.retryAfterS ?? 60) },
        });
      }
      await web.audit(result.user.name, request, "login", null);
      return web.redirect(safeNext(next), { "set-cookie": await sessionCookie(request, result.user) });
    })
    .post("/logout", async ({ request, body }) => {
      const auth = await web.guard(request, "viewer", (body ?? {}) as Form);
      if (auth instanceof Response) return auth;
      const secure = web.secure(request);
      await endSession(web.store, parseCookies(request.headers.get("cookie"))[sessionCookieName(secure)]);
      await web.audit(auth.user.name, request, "logout", null);
      return web.redirect("/login", {
        "set-cookie": cookieHeader(sessionCookieName(secure), "", { secure, maxAgeS: 0, sameSite: "Lax" }),
      });
    })
    .get("/setup", async ({ request, query }) => {
      if ((await web.store.auth.countUsers()) > 0) return web.redirect("/login");
      const token = typeof query.token === "string" ? query.token : "";
      if (!(await setupTokenValid(web.store, token)))
        return web.errorPage(
          null,
          request,
          403,
          "Setup link not valid",
          "Use the link from the server log of this start, or run: sentinel users add NAME --role admin",
        );
      return web.html(<SetupPage assets={ASSET_URLS} token={token} />);
    })
    .post("/setup", async ({ request, body }) => {
      const form = (body ?? {}) as Form;
      const token = formText(form, "token");
      if (!(await setupTokenValid(web.store, token)))
        return web.errorPage(
          null,
          request,
          403,
          "Setup link not valid",
          "An admin exists already, or the link is from an earlier start of the server.",
        );
      const name = formText(form, "name").trim();
      const password = formText(form, "password");
      const again = (error: string) =>
        web.html(<SetupPage assets={ASSET_URLS} token={token} error={error} name={name} />, 400);
      if (password !== formText(form, "password2")) return again("The passwords do not match.");
      let user: UserRecord;
      try {
        user = await createUser(web.store, { name, role: "admin", password }, web.now());
      } catch (e) {
        if (e instanceof UserError) return again(e.message);
        throw e;
      }
      await consumeSetupToken(web.store);
      await web.audit("setup", request, "user.add", user.name, { role: "admin" });
      return web.redirect("/", { "set-cookie": await sessionCookie(request, user) });
    })
    .get("/account", async ({ request }) => {
      const auth = await web.guard(request, "viewer");
      if (auth instanceof Response) return auth;
      return web.html(<AccountPage ctx={web.pageContext(auth, request)} />);
    })
    .post("/account/password", async ({ request, body }) => {
      const form = (body ?? {}) as Form;
      const auth = await web.guard(request, "viewer", form);
      if (auth instanceof Response) return auth;
      const ctx = web.pageContext(auth, request);
      if (!(await Bun.password.verify(formText(form, "current").slice(0, 1024), auth.user.passwordHash)))
        return web.html(
          <AccountPage ctx={ctx} flash={{ kind: "error", text: "The current password is wrong." }} />,
          400,
        );
      try {
        await changePassword(
          web.store,
          auth.user,
          formText(form, "password"),
          web.now(),
          auth.session.idHash,
        );
      } catch (e) {
        if (e instanceof UserError)
          return web.html(<AccountPage ctx={ctx} flash={{ kind: "error", text: e.message }} />, 400);
        throw e;
      }
      await web.audit(auth.user.name, request, "user.password", auth.user.name);
      return web.html(
        <AccountPage
          ctx={ctx}
          flash={{ kind: "ok", text: "Password changed. Other sessions were signed out." }}
        />,
      );
    });
}
