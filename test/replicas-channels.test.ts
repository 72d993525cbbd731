/**
 * A dashboard channel across replicas on one PostgreSQL: added on replica A's Alerts page, it
 * routes the alert of a report judged on replica B (B reloads its channels from the change feed,
 * no restart), and the leader delivers that alert once. Needs SENTINEL_TEST_POSTGRES.
 */
import { afterAll, expect, test } from "bun:test";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { createUser } from "../src/server/auth/users.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import type { RunningServer } from "../src/server/main.ts";
import { HOME, testGeo } from "../src/server/monitor/testing.ts";
import { fakeNtfy } from "./fakes/notify-services.ts";
import { TEST_POSTGRES } from "./helpers/postgres.ts";
import { sampleReport, signedPost } from "./helpers/report.ts";
import { openServerStore, startTestServer, tempDir } from "./helpers/server.ts";
import { PASSWORD, postForm, signIn } from "./web-helpers.ts";

const dir = tempDir("sentinel-replica-channels-");
const ntfy = fakeNtfy();
const servers: RunningServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
  await ntfy.stop();
  dir.remove();
});

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await Bun.sleep(50);
  }
}

test.skipIf(!TEST_POSTGRES)(
  "a channel added on replica A's dashboard routes a bypass judged on replica B; its alert goes out once",
  async () => {
    const store = await openServerStore(dir.path);
    await createUser(store, { name: "admin", role: "admin", password: PASSWORD }, Date.now());
    const laptop = await enrollClient(store, loadKeyring(dir.path), "laptop", "http://x", Date.now());
    await store.close();
    // two replicas of one data dir's database (the server key is the data dir's)
    for (let i = 0; i < 2; i++)
      servers.push(
        await startTestServer({
          dataDir: dir.path,
          geo: testGeo,
          homeIp: HOME.addresses,
          homeAsn: HOME.asns,
        }),
      );
    const [a, b] = servers as [RunningServer, RunningServer];
    const on =
      (s: RunningServer) =>
      (path: string, init: RequestInit = {}) =>
        fetch(`${s.url}${path}`, { redirect: "manual", ...init });
    const admin = await signIn(on(a), "admin");
    const added = await postForm(on(a), "/channels", admin, { url: `ntfy://${ntfy.host}/alerts` });
    expect(added.status).toBe(201);
    // the session is shared too: B's Alerts page lists the channel once B has reloaded
    await until("replica B to list the channel", async () => {
      const res = await on(b)("/channels", { headers: { cookie: admin.cookie } });
      return res.status === 200 && (await res.text()).includes(`ntfy://${ntfy.host}/alerts`);
    });
    const bypass = sampleReport({
      ipv4: {
        ip: "203.0.113.7",
        consistent: true,
        answers: [{ provider: "p", ip: "203.0.113.7", latency_ms: 1, error: null }],
      },
    });
    const res = await fetch(
      signedPost(b.url, { id: laptop.id, secret: laptop.secret }, JSON.stringify(bypass)),
    );
    expect(res.status).toBe(202);
    const titles = () =>
      ntfy
        .delivered()
        .map((r) => String((r.body as { title?: string }).title))
        .filter((t) => /bypass/i.test(t));
    await until("the bypass alert to reach ntfy", () => titles().length > 0);
    await Bun.sleep(1_500); // a second delivery (from the other replica) would have come by now
    expect(titles()).toHaveLength(1);
  },
  60_000,
);
