/**
 * The data dir holds the server key, sealed client secrets, password hashes and sessions: it
 * is 0700 and its files 0600 whatever the umask (outside systemd, a login shell's umask is
 * usually 022, and some are 000). Checked with the real CLI and server under `umask 000`.
 */
import { afterAll, expect, test } from "bun:test";
import { chmodSync, existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { run } from "./helpers/cli.ts";
import { tempDir } from "./helpers/server.ts";

const MAIN = join(import.meta.dir, "../src/main.ts");
const root = tempDir("sentinel-modes-");
afterAll(() => root.remove());

const modeOf = (path: string) => statSync(path).mode & 0o777;
const octal = (m: number) => m.toString(8).padStart(3, "0");

/** `sentinel ARGS` under umask 000 */
const permissive = (args: string[]) =>
  run(["sh", "-c", `umask 000 && exec bun ${MAIN} "$@"`, "sh", ...args], {
    env: { SENTINEL_HOME_LEARN: "false" },
  });

function expectPrivate(dataDir: string, files: string[]) {
  expect(octal(modeOf(dataDir)), dataDir).toBe("700");
  for (const f of files) {
    const path = join(dataDir, f);
    expect(existsSync(path), `${f} exists`).toBe(true);
    expect(octal(modeOf(path)), f).toBe("600");
  }
}

/** Runs `sentinel server` under umask 000 until it listens; returns its log so far and a stop. */
async function startPermissiveServer(dataDir: string) {
  const proc = Bun.spawn(
    ["sh", "-c", `umask 000 && exec bun ${MAIN} server --listen 127.0.0.1:0 --data-dir ${dataDir}`],
    {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", SENTINEL_HOME_LEARN: "false" },
      stdout: "ignore",
      stderr: "pipe",
    },
  );
  const reader = proc.stderr.getReader();
  let log = "";
  while (!log.includes("listening on")) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`server did not start:\n${log}`);
    log += new TextDecoder().decode(value);
  }
  return {
    log,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}

test("a running server keeps every file private: database, WAL, shared memory, pid file, key", async () => {
  const dataDir = join(root.path, "server", "data");
  const server = await startPermissiveServer(dataDir);
  try {
    expectPrivate(dataDir, ["sentinel.db", "sentinel.db-wal", "sentinel.db-shm", "server.pid", "server.key"]);
    expect(server.log).not.toContain("open to every local user");
  } finally {
    await server.stop();
  }
});

test("a CLI command writing to the data dir under umask 000 leaves its files private", async () => {
  const dataDir = join(root.path, "server", "data"); // made by the server above
  const add = await permissive(["clients", "add", "pi", "--data-dir", dataDir, "--json"]);
  expect(add.code, add.stderr).toBe(0);
  for (const f of ["sentinel.db", "server.key"]) expect(octal(modeOf(join(dataDir, f))), f).toBe("600");
  for (const f of ["sentinel.db-wal", "sentinel.db-shm"])
    if (existsSync(join(dataDir, f))) expect(octal(modeOf(join(dataDir, f))), f).toBe("600");
});

test("files an older version left readable are made private again; an open data dir is reported", async () => {
  const dataDir = join(root.path, "server", "data");
  chmodSync(dataDir, 0o755);
  for (const f of ["sentinel.db", "server.key"]) chmodSync(join(dataDir, f), 0o644);
  const server = await startPermissiveServer(dataDir);
  try {
    for (const f of ["sentinel.db", "sentinel.db-wal", "sentinel.db-shm", "server.pid", "server.key"])
      expect(octal(modeOf(join(dataDir, f))), f).toBe("600");
    // an existing directory keeps its mode (it may be a path chosen on purpose), with a warning
    expect(octal(modeOf(dataDir))).toBe("755");
    expect(server.log).toContain(
      `the data dir ${dataDir} is open to every local user (mode 755); run: chmod 700`,
    );
  } finally {
    await server.stop();
  }
});
