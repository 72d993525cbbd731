/**
 * `bun run build` as CI runs it, for this machine's target: the binary carries the packed IP data
 * (an embedded file, not a module) and answers from it exactly as the source does.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadGeo } from "../src/server/geo/index.ts";
import { run } from "./helpers/cli.ts";
import { tempDir } from "./helpers/server.ts";

const dir = tempDir("sentinel-build-");
afterAll(() => dir.remove());

test("the x64 binary looks addresses up in its embedded IP data", async () => {
  if (process.arch !== "x64") return;
  const built = await run(["bun", "scripts/build.ts", "--target", "x64", "--outdir", dir.path], {
    cwd: join(import.meta.dir, ".."),
  });
  expect(built.code, built.stderr).toBe(0);
  const bin = join(dir.path, "sentinel-linux-x64");
  expect(existsSync(bin)).toBe(true);
  const ips = ["1.1.1.1", "2606:4700:4700::1111", "102.210.164.1", "::ffff:8.8.8.8", "192.0.2.1"];
  // no node_modules next to it: the answers can only come from inside the binary
  const r = await run([bin, "geo", "--json", ...ips], { cwd: dir.path });
  expect(r.code, r.stderr).toBe(0);
  const geo = await loadGeo({});
  expect(JSON.parse(r.stdout)).toEqual(ips.map((ip) => geo.lookup(ip)));
  expect(JSON.parse(r.stdout)[0]).toMatchObject({ asn: 13335, org: "Cloudflare, Inc." });
}, 120_000);
