/** The OpenAPI document and docs/api.md must name every route the app serves. */
import { expect, test } from "bun:test";
import { openApiDocument } from "../src/server/api/openapi.ts";
import { createApp } from "../src/server/app.ts";
import { createKeyring } from "../src/server/auth/keyring.ts";
import { Broker } from "../src/server/broker.ts";
import { quietLogger } from "./helpers/server.ts";
import { openTestStore } from "./helpers/store.ts";

test("every API route is in the OpenAPI document and in docs/api.md", async () => {
  const store = await openTestStore();
  const app = createApp({
    store,
    keyring: createKeyring([Buffer.alloc(32, 1)]),
    logger: quietLogger(),
    now: Date.now,
    acceptReport: async () => ({ nextReportInS: 30, status: "green", reasons: [] }),
    broker: new Broker(),
    monitor: {
      settingsChanged: async () => {},
      learnedNetworks: async () => ({ window_ms: 0, asns: [], countries: [] }),
      acceptServerBuiltReport: async () => ({ nextReportInS: 30, status: "green", reasons: [] }),
    },
    legacy: { apiKey: "k", intervalS: 300 },
  });
  const doc = openApiDocument() as { paths: Record<string, Record<string, unknown>> };
  const apiMd = await Bun.file(`${import.meta.dir}/../docs/api.md`).text();
  const routes = app.routes.filter((r) => r.path.startsWith("/api/") || r.path.endsWith("z"));
  expect(routes.length).toBeGreaterThan(8);
  for (const r of routes) {
    const openApiPath = r.path.replace(/:(\w+)/g, "{$1}");
    expect(
      doc.paths[openApiPath]?.[r.method.toLowerCase()],
      `${r.method} ${r.path} in openapi`,
    ).toBeDefined();
    expect(
      apiMd.includes(`${r.method} ${r.path}`) || apiMd.includes(`\`${r.path}\``),
      `${r.method} ${r.path} in docs/api.md`,
    ).toBe(true);
  }
  await store.close();
});
