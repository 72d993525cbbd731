/** `sentinel export FILE`: clients, API tokens and users as JSON (sealed secrets and hashes only). */
import { writeFileSync } from "node:fs";
import { defineCommand } from "citty";
import { cittyArgs, OptionError, type OptionSpecs } from "../config/options.ts";
import { commonSpecs, loadOptions } from "./common.ts";
import { openDataStoreAndKey } from "./data-dir.ts";
import { serverDataDirSpecs } from "./server-options.ts";

export const exportSpecs = {
  ...serverDataDirSpecs,
  config: commonSpecs.config,
} satisfies OptionSpecs;

export default defineCommand({
  meta: {
    name: "export",
    description:
      "Write clients (with policies), API tokens and users to FILE as JSON (- for stdout); secrets stay sealed",
  },
  args: {
    file: { type: "positional", description: "Output file, or - for stdout", required: true },
    ...cittyArgs(exportSpecs),
  },
  async run({ rawArgs }) {
    const { options, positionals } = loadOptions(exportSpecs, rawArgs, "server");
    if (positionals.length !== 1) throw new OptionError("expected exactly one FILE (or -)");
    const { exportData } = await import("../server/api/export/service.ts");
    const { store, keyring } = await openDataStoreAndKey(options);
    const doc = await exportData(store, keyring, Date.now());
    await store.close();
    const text = `${JSON.stringify(doc, null, 2)}\n`;
    const file = positionals[0] as string;
    if (file === "-") return void process.stdout.write(text);
    writeFileSync(file, text, { mode: 0o600, flag: "wx" });
    console.log(
      `Exported ${doc.clients.length} client(s), ${doc.api_tokens.length} API token(s), ${doc.users.length} user(s), ` +
        `${doc.notify_channels.length} alert channel(s) to ${file}. ` +
        `Client secrets and channel URLs are sealed with server key ${doc.server_key_id}: the importing server needs that key.`,
    );
  },
});
