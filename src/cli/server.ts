/** `sentinel server`: the judging, alerting, dashboard half. Runs outside the VPN. */
import { defineCommand } from "citty";
import { cittyArgs, OptionError, type OptionSpecs } from "../config/options.ts";
import { commonSpecs, createLogger, loadOptions } from "./common.ts";
import { dataDirSpecs, defaultPublicUrl, parseListen, publicUrlSpecs } from "./server-options.ts";

export const serverSpecs = {
  listen: {
    kind: "string",
    description: "Address and port to listen on (host:port, [v6]:port or :port)",
    default: "0.0.0.0:8088",
    valueHint: "HOST:PORT",
    check: (v: string) => (parseListen(v) ? undefined : "must look like 0.0.0.0:8088, [::]:8088 or :8088"),
  },
  ...dataDirSpecs,
  ...publicUrlSpecs,
  reportRate: {
    kind: "int",
    description: "Reports accepted per client per second (sustained; bursts of 30 are fine); beyond it 429",
    default: 1,
    check: (v: number) => (v >= 1 ? undefined : "must be at least 1"),
  },
  ...commonSpecs,
} satisfies OptionSpecs;

export default defineCommand({
  meta: { name: "server", description: "Run the server: judge reports, notice silence, alert, serve the dashboard and API" },
  args: cittyArgs(serverSpecs),
  async run({ rawArgs }) {
    const { options, positionals } = loadOptions(serverSpecs, rawArgs, "server");
    if (positionals.length) throw new OptionError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const logger = createLogger(options);
    const { startServer } = await import("../server/main.ts");
    const listen = parseListen(options.listen) as { hostname: string; port: number };
    const running = await startServer({
      listen,
      dataDir: options.dataDir,
      publicUrl: options.publicUrl ?? defaultPublicUrl(),
      reportRate: options.reportRate,
      logger,
    });
    await new Promise<void>((resolve) => {
      const stop = async (signal: string) => {
        logger.info(`${signal} received; shutting down`);
        await running.stop();
        resolve();
      };
      process.once("SIGTERM", () => void stop("SIGTERM"));
      process.once("SIGINT", () => void stop("SIGINT"));
    });
  },
});
