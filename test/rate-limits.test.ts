/** 429 with Retry-After: per address on whoami and on failed signatures, per client on reports. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { type Credentials, sampleReport, signedPost } from "./helpers/report.ts";
import { openServerStore, startTestServer, tempDir } from "./helpers/server.ts";

const dir = tempDir();
let server: Awaited<ReturnType<typeof startTestServer>>;
let cred: Credentials;

beforeAll(async () => {
  const store = await openServerStore(dir.path);
  cred = await enrollClient(store, loadKeyring(dir.path), "eager", "http://x", Date.now());
  await store.close();
  server = await startTestServer({ dataDir: dir.path, reportRate: 1 });
});
afterAll(async () => {
  await server.stop();
  dir.remove();
});

const expect429 = async (res: Response) => {
  expect(res.status).toBe(429);
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe("rate_limited");
};

test("whoami: a burst per address, then 429 with Retry-After", async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 25; i++) statuses.push((await fetch(`${server.url}/api/v1/whoami`)).status);
  expect(statuses.slice(0, 20).every((s) => s === 200)).toBe(true);
  await expect429(await fetch(`${server.url}/api/v1/whoami`));
});

test("reports: a burst of 30 per client, then 429 with Retry-After", async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 30; i++)
    statuses.push((await fetch(signedPost(server.url, cred, JSON.stringify(sampleReport())))).status);
  expect(statuses.every((s) => s === 202)).toBe(true);
  await expect429(await fetch(signedPost(server.url, cred, JSON.stringify(sampleReport()))));
});

test("failed signatures: after a burst from one address, 429 instead of 401", async () => {
  const wrong = { id: cred.id, secret: "guessing" };
  let last = 0;
  for (let i = 0; i < 60 && last !== 429; i++)
    last = (await fetch(signedPost(server.url, wrong, "{}"))).status;
  expect(last).toBe(429);
});
