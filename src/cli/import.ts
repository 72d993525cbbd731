/**
 * `sentinel import FILE`: adds the clients, API tokens and users of an export to this data dir.
 * Existing names are left alone. Secrets sealed with another server's key are re-sealed with
 * ours when that key is available (--source-key-file, server.key.previous).
 */
import { readFileSync } from "node:fs";
import { defineCommand } from "citty";
import { cittyArgs, OptionError, type OptionSpecs } from "../config/options.ts";
import { commonSpecs, loadOptions } from "./common.ts";
import { openDataStoreAndKey } from "./data-dir.ts";
import { serverDataDirSpecs } from "./server-options.ts";

export const importSpecs = {
  ...serverDataDirSpecs,
  sourceKeyFile: {
    kind: "string",
    description:
      "The exporting server's server.key, when it differs from this one (its secrets are re-sealed with ours)",
    valueHint: "FILE",
  },
  json: { kind: "boolean", description: "Print the result as JSON", flagOnly: true },
  config: commonSpecs.config,
} satisfies OptionSpecs;

export default defineCommand({
  meta: {
    name: "import",
    description:
      "Add the clients, API tokens and users of an export FILE (- for stdin); existing names are kept",
  },
  args: {
    file: { type: "positional", description: "Export file, or - for stdin", required: true },
    ...cittyArgs(importSpecs),
  },
  async run({ rawArgs }) {
    const { options, positionals } = loadOptions(importSpecs, rawArgs, "server");
    if (positionals.length !== 1) throw new OptionError("expected exactly one FILE (or -)");
    const [keys, { importData, parseExport, ImportError }] = await Promise.all([
      import("../server/auth/keyring.ts"),
      import("../server/api/export/service.ts"),
    ]);
    const file = positionals[0] as string;
    let doc: ReturnType<typeof parseExport>;
    try {
      doc = parseExport(JSON.parse(file === "-" ? await Bun.stdin.text() : readFileSync(file, "utf8")));
    } catch (e) {
      throw new OptionError(`${file}: ${e instanceof SyntaxError ? "not valid JSON" : (e as Error).message}`);
    }
    const source = options.sourceKeyFile
      ? keys.createKeyring([
          keys.parseServerKey(readFileSync(options.sourceKeyFile, "utf8"), options.sourceKeyFile),
        ])
      : null;
    const { store, keyring: own } = await openDataStoreAndKey(options);
    let keyring = own;
    if (source) {
      // ours seals, either opens
      keyring = {
        currentId: own.currentId,
        encrypt: (p) => own.encrypt(p),
        isCurrent: (s) => own.isCurrent(s),
        derive: (purpose) => own.derive(purpose),
        decrypt: (s) => (s.split(":")[1] === source.currentId ? source.decrypt(s) : own.decrypt(s)),
      };
    }
    try {
      const r = await importData(store, keyring, doc, { actor: "cli", sourceIp: null });
      // running servers learn of it (SQLite's notice the file changed; PostgreSQL's need this)
      for (const c of doc.clients)
        if (!r.skipped.clients.includes(c.name)) store.changes.publish("client.changed", { clientId: c.id });
      for (const c of doc.notify_channels)
        if (!r.skipped.notify_channels.includes(c.url))
          store.changes.publish("channels.changed", { id: c.id });
      if (options.json) return console.log(JSON.stringify(r));
      console.log(
        `Imported ${r.created.clients} client(s), ${r.created.api_tokens} API token(s), ${r.created.users} user(s), ${r.created.notify_channels} alert channel(s).`,
      );
      if (r.resealed) console.log(`Re-sealed ${r.resealed} secret(s) with this server's key.`);
      for (const [what, names] of Object.entries(r.skipped))
        if (names.length) console.log(`Kept existing ${what.replace("_", " ")}: ${names.join(", ")}`);
    } catch (e) {
      if (e instanceof ImportError) throw new OptionError(e.message);
      throw e;
    } finally {
      await store.close();
    }
  },
});
