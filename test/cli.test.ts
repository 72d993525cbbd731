/** The CLI as a user meets it: help, errors, exit codes, option precedence, secrets kept out of output. */
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { ArgsDef, CommandDef } from "citty";
import { main } from "../src/main.ts";
import { decodeToken } from "../src/protocol/token.ts";
import { startFakeDns } from "./fakes/dns.ts";
import { startFakeEcho } from "./fakes/echo.ts";
import { run, sentinel } from "./helpers/cli.ts";
import { TEST_POSTGRES } from "./helpers/postgres.ts";
import { startServerProcess } from "./helpers/process-server.ts";
import { initDataDir, tempDir } from "./helpers/server.ts";

const dir = tempDir();
const echo = startFakeEcho({ answer: "198.51.100.7" });
const dns = await startFakeDns();
afterAll(async () => {
  echo.stop();
  await dns.stop();
  dir.remove();
});

/** Probe options that keep a client on loopback fakes. */
const probeArgs = () => [
  "--ip4-provider",
  echo.url,
  "--no-ipv6",
  "--dns-resolver",
  `127.0.0.1:${dns.port}`,
  "--timeout",
  "2s",
];

const freePort = () => {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = s.port as number;
  s.stop(true);
  return port;
};

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
    await initDataDir(`${base}-file`);
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
    const d = await initDataDir(join(dir.path, "crud"));
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
    expect(created.command).toBe(`SENTINEL_TOKEN=${created.token} sentinel client`);
    expect(decodeToken(created.token)).toEqual({
      server: "http://srv:8088",
      clientId: created.id,
      secret: created.secret,
    });

    const dup = await sentinel(["clients", "add", "laptop", "--data-dir", d]);
    expect(dup.code).toBe(2);

    // tags at enrollment: repeatable or comma-separated, lower case, each once; a bad one creates nothing
    const badTag = await sentinel(["clients", "add", "nas", "--tag", "bad/tag", "--data-dir", d]);
    expect(badTag.code).toBe(2);
    expect(badTag.stderr).toContain("--tag must be a list of at most 32 different tags");
    const tagged = await sentinel([
      "clients",
      "add",
      "nas",
      "--tag",
      "Home,office",
      "--tag",
      "home",
      "--data-dir",
      d,
    ]);
    expect(tagged.code, tagged.stderr).toBe(0);
    const rows = JSON.parse((await sentinel(["clients", "list", "--json", "--data-dir", d])).stdout);
    expect(rows.map((c: { name: string; tags: string[] }) => [c.name, c.tags])).toEqual([
      ["laptop", []],
      ["nas", ["home", "office"]],
    ]);
    expect((await sentinel(["clients", "list", "--data-dir", d])).stdout).toMatch(/nas .* home,office/);
    expect((await sentinel(["clients", "remove", "nas", "--data-dir", d])).code).toBe(0);

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

// SQLite's data dir: with --database the data lives in PostgreSQL and the data dir holds only the key
describe.skipIf(TEST_POSTGRES !== null)("a new user's first hour", () => {
  test("clients add (and the other data-dir commands) refuse a directory that holds no data dir, and create nothing", async () => {
    const cwd = join(dir.path, "somewhere");
    mkdirSync(join(cwd, "empty"), { recursive: true });
    const commands = [
      ["clients", "add", "laptop"],
      ["tokens", "add", "me"],
      ["users", "list"],
      ["export", "-"],
    ];
    for (const [command, args] of commands.flatMap((c) => [
      [c, []],
      [c, ["--data-dir", "empty"]],
    ])) {
      const r = await sentinel([...(command as string[]), ...(args as string[])], { cwd });
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain("--data-dir");
      expect(r.stderr).toContain("start the server once");
      expect(r.stdout).toBe("");
    }
    expect(readdirSync(cwd)).toEqual(["empty"]);
    expect(readdirSync(join(cwd, "empty"))).toEqual([]);
  });

  test("clients add puts the server's public URL in the token, and its printed command runs the client", async () => {
    const data = join(dir.path, "served");
    const port = freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = await startServerProcess(["--data-dir", data, "--listen", `127.0.0.1:${port}`], {
      SENTINEL_PUBLIC_URL: url,
    });
    try {
      const add = await sentinel(["clients", "add", "laptop", "--data-dir", data]);
      expect(add.code, add.stderr).toBe(0);
      expect(add.stderr).toBe(""); // no warning: the server said where it is
      // the token travels in the environment (or a file), never on the command line
      const command =
        add.stdout
          .split("\n")
          .find((l) => l.includes("sentinel client"))
          ?.trim() ?? "";
      expect(command).toMatch(/^SENTINEL_TOKEN=st1\.[A-Za-z0-9_-]+ sentinel client$/);
      expect(add.stdout).not.toContain("--token st1.");
      const token = /SENTINEL_TOKEN=(\S+)/.exec(command)?.[1] ?? "";
      expect(decodeToken(token).server).toBe(url);

      // the printed command, as printed, plus probe options that stay on loopback
      const bin = join(dir.path, "bin");
      mkdirSync(bin, { recursive: true });
      writeFileSync(
        join(bin, "sentinel"),
        `#!/bin/sh\nexec bun ${join(import.meta.dir, "../src/main.ts")} "$@"\n`,
      );
      chmodSync(join(bin, "sentinel"), 0o755);
      const spool = join(dir.path, "spool");
      const once = await run(
        ["sh", "-c", `${command} --once --spool-dir ${spool} ${probeArgs().join(" ")}`],
        {
          env: { PATH: `${bin}:${process.env.PATH}` },
        },
      );
      expect(once.code, once.stderr).toBe(0);
      // the last line is the server's conclusion, the same status the server keeps
      const list = await sentinel(["clients", "list", "--json", "--data-dir", data]);
      const status = (JSON.parse(list.stdout) as { status: string }[])[0]?.status ?? "";
      expect(once.stdout.trim().split("\n").at(-1)).toStartWith(
        `report accepted; the server says ${status.toUpperCase()}: `,
      );
    } finally {
      await server.stop();
    }
    // the URL outlives the server process: it is in the database
    const later = await sentinel(["clients", "add", "phone", "--json", "--data-dir", data]);
    expect(decodeToken(JSON.parse(later.stdout).token).server).toBe(url);
  }, 30_000);

  test("without a configured URL the token carries the server's guess (its listen port), with a warning", async () => {
    const data = join(dir.path, "guessed");
    const port = freePort();
    const server = await startServerProcess(["--data-dir", data, "--listen", `127.0.0.1:${port}`]);
    await server.stop();
    const add = await sentinel(["clients", "add", "laptop", "--json", "--data-dir", data]);
    expect(add.code).toBe(0);
    expect(decodeToken(JSON.parse(add.stdout).token).server).toBe(`http://${hostname()}:${port}`);
    expect(add.stderr).toContain("warning: the server has no --public-url set");

    const never = await initDataDir(join(dir.path, "never-served"));
    const blind = await sentinel(["clients", "add", "laptop", "--json", "--data-dir", never]);
    expect(blind.code).toBe(0);
    expect(blind.stderr).toContain("warning: the server's public URL is not known");
    expect(blind.stderr).toContain("--public-url");
  }, 30_000);

  test("clients add refuses a data dir whose server key is missing instead of making a new one", async () => {
    const data = await initDataDir(join(dir.path, "keyless"));
    const { rmSync } = await import("node:fs");
    rmSync(join(data, "server.key"));
    const r = await sentinel(["clients", "add", "laptop", "--data-dir", data, "--public-url", "http://x:1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("server.key is missing");
    expect(existsSync(join(data, "server.key"))).toBe(false);
  });

  test("--listen 8088 suggests :8088", async () => {
    const r = await sentinel(["server", "--listen", "8088", "--data-dir", join(dir.path, "nolisten")]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'sentinel: --listen: "8088" needs a colon before the port: use :8088 (all addresses) or 127.0.0.1:8088',
    );
  });

  test("a negative duration says it must be positive, for every duration option of every command", async () => {
    // biome-ignore lint/suspicious/noExplicitAny: citty commands are heterogeneous
    type AnyCommand = CommandDef<any>;
    const load = async <T>(v: T | (() => T | Promise<T>)) =>
      typeof v === "function" ? await (v as () => T)() : v;
    const found: { path: string[]; flag: string; positional: boolean }[] = [];
    const walk = async (cmd: AnyCommand, path: string[]) => {
      const args = Object.entries(((await load(cmd.args)) ?? {}) as ArgsDef);
      const positional = args.some(([, a]) => a.type === "positional");
      for (const [name, a] of args)
        if ("valueHint" in a && a.valueHint === "DURATION") found.push({ path, flag: name, positional });
      const subs = ((await load(cmd.subCommands)) ?? {}) as Record<string, AnyCommand>;
      for (const [name, sub] of Object.entries(subs)) await walk(await load(sub), [...path, name]);
    };
    await walk(main, []);
    expect(found.map((f) => `${f.path.join(" ")} --${f.flag}`)).toContain("server --grace");
    expect(found.length).toBeGreaterThanOrEqual(8);
    for (const { path, flag, positional } of found) {
      const r = await sentinel([...path, ...(positional ? ["x"] : []), `--${flag}`, "-5s"]);
      expect({ flag, code: r.code, stderr: r.stderr.trim() }).toEqual({
        flag,
        code: 2,
        stderr: `sentinel: --${flag}: "-5s" must be positive (a duration like 30s, 5m, 2h)`,
      });
    }
  }, 60_000);

  test("no ANSI colours when output is not a terminal", async () => {
    const help = await sentinel(["server", "--help"]);
    expect(help.stdout).toContain("--data-dir");
    expect(help.stdout).not.toContain("\x1b[");
    // logs into a pipe or the journal: plain lines, no colours, no blank lines around warnings
    const token = `st1.${Buffer.from(JSON.stringify({ u: "http://127.0.0.1:9", c: "c_x", s: "s" })).toString("base64url")}`;
    const client = await sentinel(
      ["client", "--once", "--ip4-provider", "http://127.0.0.1:9", ...probeArgs().slice(2)],
      { env: { SENTINEL_TOKEN: token, HOME: dir.path } },
    );
    expect(client.stderr).toContain("WARN [client] probe ipv4: no provider answered");
    expect(client.stderr).not.toContain("\x1b[");
    expect(
      client.stderr
        .trim()
        .split("\n")
        .filter((l) => l.trim() === ""),
    ).toEqual([]);
  });

  const script = Bun.which("script");
  test.skipIf(!script)("NO_COLOR is honoured on a terminal", async () => {
    const onTerminal = (env: Record<string, string>) =>
      run(
        [
          script as string,
          "-qc",
          `bun ${join(import.meta.dir, "../src/main.ts")} server --help`,
          "/dev/null",
        ],
        {
          env: { TERM: "xterm", ...env },
        },
      );
    expect((await onTerminal({})).stdout).toContain("\x1b["); // colours where they belong
    expect((await onTerminal({ NO_COLOR: "yes" })).stdout).not.toContain("\x1b[");
  });
});

const asNobody = process.getuid?.() === 0 && Bun.which("setpriv") !== null;
describe.skipIf(!asNobody || TEST_POSTGRES !== null)("permission errors name the path and its owner", () => {
  const nobody = (args: string[]) =>
    run(
      [
        "setpriv",
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        "bun",
        join(import.meta.dir, "../src/main.ts"),
        ...args,
      ],
      {
        env: { HOME: "/tmp" },
      },
    );

  test("a data dir of another user, a database file of another user, a parent nobody may enter", async () => {
    const open = tempDir();
    chmodSync(open.path, 0o755);
    try {
      const data = await initDataDir(join(open.path, "data"));
      chmodSync(data, 0o700);
      const r = await nobody(["clients", "add", "x", "--data-dir", data]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(
        `sentinel: permission denied: this command needs to write in ${data}, which belongs to root (mode 0700), and it runs as nobody. Run it with sudo (sudo sentinel ...), or give nobody access to ${data}`,
      );
      chmodSync(data, 0o777);
      const db = await nobody(["tokens", "add", "x", "--data-dir", data]);
      expect(db.stderr).toContain(
        `needs to write ${join(data, "sentinel.db")}, which belongs to root (mode 0600)`,
      );
      const server = await nobody([
        "server",
        "--data-dir",
        join(open.path, "data"),
        "--listen",
        "127.0.0.1:0",
      ]);
      expect(server.code).toBe(1);
      expect(server.stderr).toContain(`${join(data, "sentinel.db")}, which belongs to root`);
    } finally {
      open.remove();
    }
    const secrets = tempDir();
    chmodSync(secrets.path, 0o755);
    try {
      const tokenFile = join(secrets.path, "laptop.token");
      const config = join(secrets.path, "sentinel.toml");
      writeFileSync(tokenFile, "st1.x\n", { mode: 0o600 });
      writeFileSync(config, 'log-level = "info"\n', { mode: 0o600 });
      const token = await nobody(["client", "--once", "--token-file", tokenFile]);
      expect(token.stderr).toContain(`needs to read ${tokenFile}, which belongs to root (mode 0600)`);
      const toml = await nobody(["check", "--config", config]);
      expect(toml.stderr).toContain(`needs to read ${config}, which belongs to root (mode 0600)`);
    } finally {
      secrets.remove();
    }
    const hidden = tempDir(); // mkdtemp: 0700, root's
    try {
      const r = await nobody(["users", "list", "--data-dir", join(hidden.path, "data")]);
      expect(r.stderr).toContain(`needs to enter ${hidden.path}, which belongs to root (mode 0700)`);
    } finally {
      hidden.remove();
    }
  });
});

describe("write commands wait for a busy database", () => {
  /** Runs `jobs` with `width` at a time; returns the failures' stderr. */
  async function pool(jobs: (() => Promise<{ code: number; stderr: string }>)[], width: number) {
    const failures: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: width }, async () => {
        while (next < jobs.length) {
          const r = await (jobs[next++] as () => Promise<{ code: number; stderr: string }>)();
          if (r.code !== 0) failures.push(r.stderr.trim());
        }
      }),
    );
    return failures;
  }

  test("a fleet enrolled 8 at a time, before and while the server runs: none fails", async () => {
    const data = await initDataDir(join(dir.path, "fleet"));
    const add = (i: number) => () =>
      sentinel(["clients", "add", `c${i}`, "--json", "--data-dir", data, "--public-url", "http://x:1"]);
    // before the server starts, every process is the last to close the database: the WAL comes and goes
    const before = await pool(
      Array.from({ length: 120 }, (_, i) => add(i)),
      8,
    );
    expect(before).toEqual([]);
    const server = await startServerProcess(["--data-dir", data]);
    try {
      const during = await pool(
        [
          ...Array.from({ length: 40 }, (_, i) => add(1000 + i)),
          ...Array.from(
            { length: 8 },
            (_, i) => () => sentinel(["tokens", "add", `t${i}`, "--data-dir", data]),
          ),
        ],
        8,
      );
      expect(during).toEqual([]);
    } finally {
      await server.stop();
    }
    const list = await sentinel(["clients", "list", "--json", "--data-dir", data]);
    expect(JSON.parse(list.stdout)).toHaveLength(160);
  }, 180_000);

  test("a writer holding the database longer than SQLite's busy timeout: the commands wait for it", async () => {
    const data = await initDataDir(join(dir.path, "held"));
    const db = new Database(join(data, "sentinel.db"));
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("BEGIN IMMEDIATE");
    const started = Date.now();
    const runs = Promise.all([
      sentinel(["clients", "add", "a", "--json", "--data-dir", data, "--public-url", "http://x:1"]),
      sentinel(["tokens", "add", "t", "--json", "--data-dir", data]),
      sentinel(["users", "add", "u", "--role", "admin", "--data-dir", data], {
        stdin: "Correct-Horse-Battery-9\n",
      }),
    ]);
    await Bun.sleep(6500); // SQLite's own busy timeout is 5 s
    db.exec("COMMIT");
    db.close();
    const results = await runs;
    for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(6500);
  }, 30_000);
});
