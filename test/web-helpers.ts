/**
 * Shared by the dashboard tests: the real app built in-process with createApp (real store,
 * monitor and evaluator over the monitor's test geo), plus sign-in and form helpers.
 */
import { createConsola } from "consola";
import { createApp } from "../src/server/app.ts";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { createUser } from "../src/server/auth/users.ts";
import { Broker } from "../src/server/broker.ts";
import type { GeoLookup } from "../src/server/geo/types.ts";
import { ClientMonitor } from "../src/server/monitor/service.ts";
import { buildReport, HOME, type ReportSpec, testGeo } from "../src/server/monitor/testing.ts";
import type { ChannelStatus, ChannelStatusProvider } from "../src/server/web/index.tsx";
import { signedPost } from "./helpers/report.ts";
import { openServerStore, tempDir } from "./helpers/server.ts";

export const XSS_NAME = "<img src=x onerror=alert(1)>";
export const XSS_ORG = "Evil </script><script>alert(2)</script> AS";
/** An exit whose AS organisation is hostile markup (203.0.113.200 is unknown to testGeo). */
export const XSS_EXIT = "203.0.113.200";
export const PASSWORD = "correct horse battery";
const BASE = "http://localhost";

export const xssGeo: GeoLookup = {
  lookup: (ip) =>
    ip === XSS_EXIT
      ? { ip, asn: 64666, org: XSS_ORG, country: "NL", source: "override" }
      : testGeo.lookup(ip),
};

/** A channel list the test sets; changes are recorded, not made (dashboard.test and the real server test them). */
export class FakeChannels implements ChannelStatusProvider {
  tests: string[] = [];
  changes: string[] = [];
  constructor(private readonly channels: ChannelStatus[]) {}
  async list() {
    return this.channels;
  }
  async sendTest(name: string) {
    this.tests.push(name);
  }
  async add(url: string) {
    this.changes.push(`add ${url}`);
    return url;
  }
  async edit(name: string, url: string) {
    this.changes.push(`edit ${name} ${url}`);
    return name;
  }
  async remove(name: string) {
    this.changes.push(`remove ${name}`);
  }
}

/** `now`: the server's clock (default: real time), for tests that let time pass. */
export async function buildWebApp(opts: { now?: () => number } = {}) {
  const dir = tempDir("sentinel-web-");
  const store = await openServerStore(dir.path);
  const keyring = loadKeyring(dir.path);
  const now = opts.now ?? (() => Date.now());
  const logger = createConsola({ level: -999 });
  const broker = new Broker();
  const monitor = new ClientMonitor({ store, now, logger, geo: xssGeo, broker, home: () => HOME });
  const channels = new FakeChannels([
    {
      name: "telegram",
      origin: "options",
      url: null,
      state: "failing",
      failingSince: Date.now() - 60_000,
      lastOkAt: null,
      lastError: "<b>chat not found</b>",
      lastErrorAt: Date.now() - 5_000,
      waiting: 2,
      oldestWaitingAt: Date.now() - 60_000,
      failed: 1,
    },
  ]);
  const app = createApp({
    store,
    keyring,
    logger,
    now,
    broker,
    monitor,
    acceptReport: (r, tx) => monitor.acceptReport(r, tx),
    sourceIpOf: () => "192.0.2.99",
    web: {
      publicUrl: "http://sentinel.test:8088",
      channels,
      loginPolicy: {
        lockAfter: 3,
        lockMs: 60_000,
        perAddress: { ratePerS: 100, burst: 1000 },
        perUser: { ratePerS: 100, burst: 1000 },
      },
    },
  });
  await createUser(store, { name: "admin", role: "admin", password: PASSWORD }, now());
  await createUser(store, { name: "viewer", role: "viewer", password: PASSWORD }, now());
  const handle = (path: string, init: RequestInit = {}) => app.handle(new Request(`${BASE}${path}`, init));
  return {
    dir,
    store,
    keyring,
    broker,
    monitor,
    channels,
    app,
    handle,
    close: async () => {
      await store.close();
      dir.remove();
    },
  };
}

export type WebApp = Awaited<ReturnType<typeof buildWebApp>>;

export interface Session {
  cookie: string;
  csrf: string;
}

const cookieOf = (res: Response) => (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";

export async function signIn(handle: WebApp["handle"], name: string, password = PASSWORD): Promise<Session> {
  const form = await handle("/login");
  const loginCookie = cookieOf(form);
  const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? "";
  const res = await handle("/login", {
    method: "POST",
    headers: { cookie: loginCookie, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _csrf: token, name, password, next: "/" }),
  });
  if (res.status !== 303) throw new Error(`sign-in as ${name} failed: ${res.status}`);
  const cookie = cookieOf(res);
  const page = await (await handle("/", { headers: { cookie } })).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page)?.[1] ?? "";
  return { cookie, csrf };
}

export function postForm(
  handle: WebApp["handle"],
  path: string,
  s: Session | null,
  fields: Record<string, string>,
  withCsrf = true,
) {
  return handle(path, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...(s ? { cookie: s.cookie } : {}) },
    body: new URLSearchParams({ ...fields, ...(s && withCsrf ? { _csrf: s.csrf } : {}) }),
  });
}

/** Sends a signed report the way an agent does. */
export async function sendReport(w: WebApp, cred: { id: string; secret: string }, spec: ReportSpec = {}) {
  const body = JSON.stringify(buildReport(spec, Date.now()));
  const res = await w.app.handle(signedPost(BASE, cred, body));
  if (res.status !== 202) throw new Error(`report refused: ${res.status} ${await res.text()}`);
}
