/** `sentinel geo` end to end: a real process, real embedded data, exit codes. */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sentinel as runCli } from "../../test/helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "sentinel-geo-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sentinel = (args: string[], env: Record<string, string> = {}) => runCli(["geo", ...args], { env });

test("prints a table for v4 and v6 addresses", async () => {
  const { stdout, stderr, code } = await sentinel(["1.1.1.1", "2001:4860:4860::8888", "10.0.0.1"]);
  expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
  const lines = stdout.trimEnd().split("\n");
  expect(lines[0]).toMatch(/^IP\s+COUNTRY\s+ASN\s+SOURCE\s+ORG$/);
  expect(lines[1]).toMatch(/^1\.1\.1\.1\s+AU\s+AS13335\s+database\s+Cloudflare, Inc\.$/);
  expect(lines[2]).toMatch(/^2001:4860:4860::8888\s+US\s+AS15169\s+database\s+Google LLC$/);
  expect(lines[3]).toMatch(/^10\.0\.0\.1\s+-\s+-\s+none\s+-$/);
});

test("--json with overrides from SENTINEL_GEO_OVERRIDES; non-ASCII intact", async () => {
  const file = join(dir, "o.csv");
  writeFileSync(
    file,
    "cidr,country,asn,org\n203.0.113.0/24,PL,64500,Toruń Światłowód\n2001:db8::/32,BR,64501,São Paulo\n",
  );
  const { stdout, code } = await sentinel(["203.0.113.9", "2001:db8::1", "--json"], {
    SENTINEL_GEO_OVERRIDES: file,
  });
  expect(code).toBe(0);
  expect(JSON.parse(stdout)).toEqual([
    { ip: "203.0.113.9", country: "PL", asn: 64500, org: "Toruń Światłowód", source: "override" },
    { ip: "2001:db8::1", country: "BR", asn: 64501, org: "São Paulo", source: "override" },
  ]);
});

test("an invalid IP is one line on stderr and exit 2", async () => {
  const { stdout, stderr, code } = await sentinel(["1.1.1.1", "300.1.1.1"]);
  expect({ stdout, stderr, code }).toEqual({
    stdout: "",
    stderr: 'sentinel: geo: "300.1.1.1" is not an IPv4 or IPv6 address\n',
    code: 2,
  });
});

test("no address is exit 2", async () => {
  const { stderr, code } = await sentinel([]);
  expect(code).toBe(2);
  expect(stderr).toBe("sentinel: geo: give at least one IP address, e.g. sentinel geo 1.1.1.1\n");
});

test("a bad overrides file is one line naming file and entry, exit 2", async () => {
  const file = join(dir, "bad.json");
  writeFileSync(
    file,
    JSON.stringify([
      { cidr: "192.0.2.0/24", org: "ok" },
      { cidr: "2001:db8::/32", country: "Brazil" },
    ]),
  );
  const { stdout, stderr, code } = await sentinel(["192.0.2.1", "--geo-overrides", file]);
  expect({ stdout, code }).toEqual({ stdout: "", code: 2 });
  expect(stderr).toBe(
    `sentinel: geo overrides ${JSON.stringify(file)} index 1: "country" "Brazil" is not a two-letter ISO 3166-1 code (e.g. SE)\n`,
  );
});

test("an unknown flag is exit 2", async () => {
  const { stderr, code } = await sentinel(["1.1.1.1", "--geo-overide", "x"]);
  expect(code).toBe(2);
  expect(stderr).toStartWith("sentinel: ");
  expect(stderr.trimEnd().split("\n")).toHaveLength(1);
});
