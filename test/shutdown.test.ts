/** Stopping the server under load: requests in flight are answered, none with a 5xx. */
import { expect, test } from "bun:test";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { sampleReport, signedPost } from "./helpers/report.ts";
import { openServerStore, startTestServer, tempDir } from "./helpers/server.ts";

test("stop() during a burst of reports: every answered request is a 202, none a 5xx", async () => {
  const dir = tempDir();
  const store = await openServerStore(dir.path);
  const creds = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      enrollClient(store, loadKeyring(dir.path), `c${i}`, "http://x", Date.now()),
    ),
  );
  await store.close();
  const server = await startTestServer({ dataDir: dir.path });
  const statuses: number[] = [];
  const inflight = creds.flatMap((c) =>
    Array.from({ length: 10 }, () =>
      fetch(signedPost(server.url, c, JSON.stringify(sampleReport())))
        .then((r) => statuses.push(r.status))
        .catch(() => statuses.push(0)),
    ),
  );
  await Bun.sleep(5);
  await server.stop();
  await Promise.all(inflight);
  expect(statuses.filter((s) => s >= 500)).toEqual([]);
  expect(statuses.filter((s) => s === 202).length).toBeGreaterThan(0);
  dir.remove();
});
