/** Runs real processes for tests: any command, or the sentinel CLI from source. */
import { testDatabaseFor } from "./postgres.ts";

export interface RunOptions {
  env?: Record<string, string>;
  stdin?: string;
  cwd?: string;
}

/** Runs `cmd` to the end and returns its output and exit code. PATH and HOME are kept. */
export async function run(cmd: string[], opts: RunOptions = {}) {
  const proc = Bun.spawn(cmd, {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", ...opts.env },
    cwd: opts.cwd,
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, code };
}

/**
 * The sentinel CLI from source as a child process. Under SENTINEL_TEST_POSTGRES a command with
 * --data-dir works on that data dir's test database (helpers/postgres.ts), like the test server.
 */
export async function sentinel(args: string[], opts: RunOptions = {}) {
  const at = args.indexOf("--data-dir");
  const database =
    at >= 0 && args[at + 1] && !args.includes("--database")
      ? await testDatabaseFor(args[at + 1] as string)
      : undefined;
  const env = database ? { SENTINEL_DATABASE: database, ...opts.env } : opts.env;
  return run(["bun", `${import.meta.dir}/../../src/main.ts`, ...args], { ...opts, ...(env ? { env } : {}) });
}
