/** Runs real processes for tests: any command, or the sentinel CLI from source. */
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

/** The sentinel CLI from source as a child process. */
export const sentinel = (args: string[], opts: RunOptions = {}) =>
  run(["bun", `${import.meta.dir}/../../src/main.ts`, ...args], opts);
