/** `sentinel tokens add|list|revoke`: API bearer tokens for /api/v1 (stored hashed, shown once). */
import { defineCommand } from "citty";
import { cittyArgs, OptionError, type OptionSpecs } from "../config/options.ts";
import { auditCli } from "./audit.ts";
import { commonSpecs, loadOptions } from "./common.ts";
import { openDataStore } from "./data-dir.ts";
import { serverDataDirSpecs } from "./server-options.ts";

const config = commonSpecs.config;
const addSpecs = {
  ...serverDataDirSpecs,
  role: {
    kind: "string",
    description: "admin (read and change) or viewer (read only)",
    default: "viewer",
    check: (v: string) => (v === "admin" || v === "viewer" ? undefined : "must be admin or viewer"),
  },
  json: { kind: "boolean", description: "Print JSON", flagOnly: true },
  config,
} satisfies OptionSpecs;
const listSpecs = { ...serverDataDirSpecs, json: addSpecs.json, config } satisfies OptionSpecs;
const revokeSpecs = { ...serverDataDirSpecs, config } satisfies OptionSpecs;

const store = openDataStore;

const one = (positionals: string[]) => {
  if (positionals.length !== 1) throw new OptionError("expected exactly one token NAME");
  return positionals[0] as string;
};

const add = defineCommand({
  meta: {
    name: "add",
    description: "Create an API token and print it once (sentinel tokens add NAME --role admin|viewer)",
  },
  args: { name: { type: "positional", description: "Token name", required: true }, ...cittyArgs(addSpecs) },
  async run({ rawArgs }) {
    const { options, positionals } = loadOptions(addSpecs, rawArgs, "server");
    const name = one(positionals);
    const s = await store(options);
    if ((await s.tokens.list()).some((t) => t.name.toLowerCase() === name.toLowerCase()))
      throw new OptionError(`a token named ${JSON.stringify(name)} already exists`);
    const { createApiToken } = await import("../server/auth/api-tokens.ts");
    const { record, token } = await s.transaction(async (tx) => {
      const created = await createApiToken(tx, name, options.role as "admin" | "viewer", Date.now());
      await auditCli(tx, "token.add", created.record.name, {
        role: created.record.role,
        token_id: created.record.id,
      });
      return created;
    });
    await s.close();
    if (options.json)
      return console.log(JSON.stringify({ id: record.id, name: record.name, role: record.role, token }));
    console.log(
      `Created ${record.role} token ${JSON.stringify(record.name)}. It is shown only now:\n\n  ${token}\n`,
    );
    console.log("Use it as: Authorization: Bearer <token>");
  },
});

const list = defineCommand({
  meta: { name: "list", description: "List API tokens (never their values)" },
  args: cittyArgs(listSpecs),
  async run({ rawArgs }) {
    const { options } = loadOptions(listSpecs, rawArgs, "server");
    const s = await store(options);
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    const rows = (await s.tokens.list()).map((t) => ({
      id: t.id,
      name: t.name,
      role: t.role,
      created_at: iso(t.createdAt),
      last_used_at: iso(t.lastUsedAt),
      revoked_at: iso(t.revokedAt),
    }));
    await s.close();
    if (options.json) return console.log(JSON.stringify(rows));
    if (rows.length === 0)
      return console.log("No API tokens. Create one with: sentinel tokens add NAME --role viewer");
    for (const r of rows)
      console.log(
        `${r.name}\t${r.id}\t${r.role}\t${r.revoked_at ? `revoked ${r.revoked_at}` : `last used ${r.last_used_at ?? "never"}`}`,
      );
  },
});

const revoke = defineCommand({
  meta: { name: "revoke", description: "Revoke an API token by name or id" },
  args: {
    name: { type: "positional", description: "Token name or id", required: true },
    ...cittyArgs(revokeSpecs),
  },
  async run({ rawArgs }) {
    const { options, positionals } = loadOptions(revokeSpecs, rawArgs, "server");
    const which = one(positionals);
    const s = await store(options);
    const token = (await s.tokens.list()).find(
      (t) => (t.id === which || t.name === which) && t.revokedAt === null,
    );
    const done = await s.transaction(async (tx) => {
      const revoked = await tx.tokens.revoke(which, Date.now());
      if (revoked) await auditCli(tx, "token.revoke", token?.name ?? which, { token_id: token?.id ?? null });
      return revoked;
    });
    await s.close();
    if (!done) throw new OptionError(`no active token named ${JSON.stringify(which)}`);
    console.log(`Revoked token ${JSON.stringify(which)}.`);
  },
});

export default defineCommand({
  meta: { name: "tokens", description: "Manage API tokens: add, list, revoke" },
  subCommands: { add, list, revoke },
});

export const tokensCommandSpecs = { add: addSpecs, list: listSpecs, revoke: revokeSpecs };
