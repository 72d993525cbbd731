/** Runs `sentinel server` from source as a child process (real CLI, real logging) on a free port. */
import type { Subprocess } from "bun";
import { testDatabaseFor } from "./postgres.ts";

export interface ServerProcess {
  url: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** everything the server wrote to stderr so far (its log) */
  log(): string;
  /** SIGTERM, then the complete log */
  stop(): Promise<string>;
}

export async function startServerProcess(
  args: string[],
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  // under SENTINEL_TEST_POSTGRES the data dir's test database, as for in-process servers
  const at = args.indexOf("--data-dir");
  const database =
    at >= 0 && args[at + 1] && !args.includes("--database")
      ? await testDatabaseFor(args[at + 1] as string)
      : undefined;
  const proc = Bun.spawn(
    ["bun", `${import.meta.dir}/../../src/main.ts`, "server", "--listen", "127.0.0.1:0", ...args],
    {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        SENTINEL_HOME_LEARN: "false",
        ...(database ? { SENTINEL_DATABASE: database } : {}),
        ...env,
      },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  let text = "";
  const decoder = new TextDecoder();
  const pump = (async () => {
    const reader = proc.stderr.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  })();
  void new Response(proc.stdout).text();
  const deadline = Date.now() + 15_000;
  let url: string | undefined;
  while (!url) {
    url = /listening on (https?:\/\/[^\s"]+)/.exec(text)?.[1];
    if (url) break;
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`server did not start:\n${text}`);
    await Bun.sleep(50);
  }
  return {
    url,
    proc,
    log: () => text,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
      await pump;
      return text;
    },
  };
}
