/** The CLI as a user meets it: help, errors, exit codes, option precedence, secrets kept out of output. */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeToken } from "../src/protocol/token.ts";
import { sentinel } from "./helpers/cli.ts";
import { TEST_POSTGRES } from "./helpers/postgres.ts";
import { tempDir } from "./helpers/server.ts";

const dir = tempDir();
afterAll(() => dir.remove());

describe("sentinel CLI", () => {
  test("version prints version, commit and target", async () => {
    const r = await sentinel(["version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^sentinel \d+\.\d+\.\d+ \(commit \S+, \S+, bun \d/);
  });

  test("--help lists subcommands; subcommand help lists options with env names", async () => {
    const root = await sentinel(["--help"]);
    expect(root.code).toBe(0);
    for (const sub of ["server", "client", "check", "clients", "tokens", "version"])
      expect(root.stdout).toContain(sub);
    const server = await sentinel(["server", "--help"]);
    expect(server.stdout).toContain("--data-dir");
    expect(server.stdout).toContain("SENTINEL_DATA_DIR");
  });

  test("an invalid value prints one line naming the option, exit 2", async () => {
    const r = await sentinel(["server", "--listen", "nonsense", "--data-dir", dir.path]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("--listen");
  });

  test("an invalid env value names the env var", async () => {
    const r = await sentinel(["server", "--data-dir", dir.path], { env: { SENTINEL_REPORT_RATE: "fast" } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("SENTINEL_REPORT_RATE");
  });

  test("unknown flags and commands exit 2", async () => {
    expect((await sentinel(["server", "--no-such-flag"])).code).toBe(2);
    expect((await sentinel(["frobnicate"])).code).toBe(2);
  });

  // the data dir comes from a config file here; SENTINEL_TEST_POSTGRES maps only --data-dir to a database
  test.skipIf(TEST_POSTGRES !== null)("precedence: flag > env > config file > default", async () => {
    const base = join(dir.path, "prec");
    const cfg = join(dir.path, "sentinel.toml");
    writeFileSync(cfg, `[server]\ndata-dir = "${base}-file"\npublic-url = "http://from-file:1"\n`);
    const viaFile = await sentinel(["clients", "add", "a", "--json", "--config", cfg]);
    expect(viaFile.code).toBe(0);
    expect(decodeToken(JSON.parse(viaFile.stdout).token).server).toBe("http://from-file:1");

    const viaEnv = await sentinel(["clients", "add", "b", "--json", "--config", cfg], {
      env: { SENTINEL_PUBLIC_URL: "http://from-env:2" },
    });
    expect(decodeToken(JSON.parse(viaEnv.stdout).token).server).toBe("http://from-env:2");

    const viaFlag = await sentinel(
      ["clients", "add", "c", "--json", "--config", cfg, "--public-url", "http://from-flag:3"],
      {
        env: { SENTINEL_PUBLIC_URL: "http://from-env:2" },
      },
    );
    expect(decodeToken(JSON.parse(viaFlag.stdout).token).server).toBe("http://from-flag:3");

    const list = await sentinel(["clients", "list", "--json", "--data-dir", `${base}-file`]);
    expect(JSON.parse(list.stdout).map((c: { name: string }) => c.name)).toEqual(["a", "b", "c"]);
  });

  test("clients add/list/remove and tokens add/list/revoke", async () => {
    const d = join(dir.path, "crud");
    const add = await sentinel([
      "clients",
      "add",
      "laptop",
      "--json",
      "--data-dir",
      d,
      "--public-url",
      "http://srv:8088",
    ]);
    expect(add.code).toBe(0);
    const created = JSON.parse(add.stdout);
    expect(Object.keys(created).sort()).toEqual(["command", "id", "secret", "token"]);
    expect(created.command).toBe(`sentinel client --server http://srv:8088 --token ${created.token}`);
    expect(decodeToken(created.token)).toEqual({
      server: "http://srv:8088",
      clientId: created.id,
      secret: created.secret,
    });

    const dup = await sentinel(["clients", "add", "laptop", "--data-dir", d]);
    expect(dup.code).toBe(2);

    const list = await sentinel(["clients", "list", "--data-dir", d]);
    expect(list.stdout).toContain("laptop");
    expect(list.stdout).not.toContain(created.secret);

    const tok = await sentinel(["tokens", "add", "grafana", "--role", "viewer", "--json", "--data-dir", d]);
    const { token } = JSON.parse(tok.stdout);
    expect(token).toMatch(/^sst_/);
    const tokens = await sentinel(["tokens", "list", "--data-dir", d]);
    expect(tokens.stdout).toContain("grafana");
    expect(tokens.stdout).not.toContain(token);
    expect((await sentinel(["tokens", "add", "x", "--role", "root", "--data-dir", d])).code).toBe(2);
    expect((await sentinel(["tokens", "revoke", "grafana", "--data-dir", d])).code).toBe(0);
    expect((await sentinel(["tokens", "revoke", "grafana", "--data-dir", d])).code).toBe(2);

    expect((await sentinel(["clients", "remove", "laptop", "--data-dir", d])).code).toBe(0);
    expect((await sentinel(["clients", "remove", "laptop", "--data-dir", d])).code).toBe(2);
  });

  test("secrets from the environment never show in --help", async () => {
    const secret = "st1.super-secret-value-from-env";
    for (const cmd of [["client", "--help"], ["server", "--help"], ["--help"]]) {
      const r = await sentinel(cmd, { env: { SENTINEL_TOKEN: secret, SENTINEL_SERVER_KEY: secret } });
      expect(r.stdout + r.stderr).not.toContain(secret);
    }
  });
});
