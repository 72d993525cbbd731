/** `sentinel clients add|list|remove|rotate`: manage clients directly in the data dir. */
import { defineCommand } from "citty";
import { formatDuration } from "../config/duration.ts";
import { cittyArgs, OptionError, type OptionSpecs } from "../config/options.ts";
import type { Store } from "../server/store/index.ts";
import { auditCli } from "./audit.ts";
import { commonSpecs, loadOptions } from "./common.ts";
import { openDataStore, openDataStoreAndKey } from "./data-dir.ts";
import { defaultPublicUrl, publicUrlSpecs, serverDataDirSpecs } from "./server-options.ts";

const addSpecs = {
  ...serverDataDirSpecs,
  publicUrl: {
    ...publicUrlSpecs.publicUrl,
    description:
      "Server URL the token carries (default: the --public-url the server last started with, kept in its data dir)",
  },
  json: { kind: "boolean", description: 'Print {"id","secret","token","command"} as JSON', flagOnly: true },
  config: commonSpecs.config,
} satisfies OptionSpecs;
const addOnlySpecs = {
  tag: {
    kind: "list",
    description: "Tag the client (repeatable, or comma-separated): a channel URL's ?tags= routes its alerts",
    valueHint: "TAG",
    flagOnly: true,
  },
} satisfies OptionSpecs;
const listSpecs = {
  ...serverDataDirSpecs,
  json: { kind: "boolean", description: "Print JSON", flagOnly: true },
  config: addSpecs.config,
} satisfies OptionSpecs;
const removeSpecs = { ...serverDataDirSpecs, config: addSpecs.config } satisfies OptionSpecs;
const rotateSpecs = {
  ...addSpecs,
  grace: { kind: "duration", description: "How long the old secret keeps working", default: "24h" },
} satisfies OptionSpecs;

/**
 * The server URL a token carries: --public-url (or its env/config) if given, else the one the
 * server stored at its last start, else a guess, with a warning, since a token with the wrong
 * URL sends a client nowhere.
 */
async function tokenServerUrl(store: Store, configured: string | undefined): Promise<string> {
  if (configured) return configured;
  const { storedPublicUrl } = await import("../server/enrollment.ts");
  const stored = await storedPublicUrl(store);
  if (stored && !stored.guessed) return stored.url;
  const url = stored?.url ?? defaultPublicUrl();
  console.error(
    stored
      ? `sentinel: warning: the server has no --public-url set; the token carries its guess ${url}. ` +
          "If clients reach the server under another name, set SENTINEL_PUBLIC_URL for the server " +
          "(and restart it) or pass --public-url here."
      : `sentinel: warning: the server's public URL is not known (it has not started with this data dir yet); ` +
          `the token carries the guess ${url}. Pass --public-url URL if clients reach the server otherwise.`,
  );
  return url;
}

/** What `clients add` and `clients rotate` print for people: the token travels in the environment or a file. */
function printEnrollment(e: { command: string }) {
  console.log("The token is shown only now. Run the client inside the VPN's network namespace:\n");
  console.log(`  ${e.command}\n`);
  console.log("(The environment keeps the token out of the process list; --token-file FILE reads it");
  console.log("from a file instead. As a service: sudo SENTINEL_TOKEN=<token> sh install.sh client.)");
}

const oneName = (positionals: string[], what: string): string => {
  if (positionals.length !== 1) throw new OptionError(`expected exactly one ${what}`);
  return positionals[0] as string;
};

const add = defineCommand({
  meta: {
    name: "add",
    description:
      "Create a client and print, once, the command that runs it with its token (sentinel clients add NAME)",
  },
  args: {
    name: { type: "positional", description: "Client name", required: true },
    ...cittyArgs({ ...addSpecs, ...addOnlySpecs }),
  },
  async run({ rawArgs }) {
    const { options, positionals } = loadOptions({ ...addSpecs, ...addOnlySpecs }, rawArgs, "server");
    const name = oneName(positionals, "client NAME");
    const { enrollClient, checkClientName } = await import("../server/enrollment.ts");
    const problem = checkClientName(name);
    if (problem) throw new OptionError(problem);
    const { normalizeTags, validateSettingsChange } = await import("../server/monitor/settings.ts");
    const tagged = validateSettingsChange({ tags: normalizeTags(options.tag.join(",")) });
    if (!tagged.ok) throw new OptionError(`--tag ${tagged.errors[0]?.message}`);
    const { store, keyring } = await openDataStoreAndKey(options);
    if (await store.clients.getByName(name))
      throw new OptionError(`a client named ${JSON.stringify(name)} already exists`);
    const serverUrl = await tokenServerUrl(store, options.publicUrl);
    const e = await store.transaction(async (tx) => {
      const enrolled = await enrollClient(tx, keyring, name, serverUrl, Date.now());
      const tags = tagged.change.tags ?? [];
      if (tags.length) {
        const client = await tx.clients.get(enrolled.id);
        if (client) await tx.clients.updateSettings(enrolled.id, { ...client.settings, tags });
      }
      await auditCli(tx, "client.add", enrolled.name, {
        client_id: enrolled.id,
        ...(tags.length ? { tags } : {}),
      });
      return enrolled;
    });
    store.changes.publish("client.changed", { clientId: e.id });
    await store.close();
    if (options.json)
      console.log(JSON.stringify({ id: e.id, secret: e.secret, token: e.token, command: e.command }));
    else {
      console.log(`Created client ${JSON.stringify(e.name)} (id ${e.id}); its token reaches ${serverUrl}.`);
      printEnrollment(e);
    }
  },
});

const list = defineCommand({
  meta: { name: "list", description: "List clients with their status" },
  args: cittyArgs(listSpecs),
  async run({ rawArgs }) {
    const { options } = loadOptions(listSpecs, rawArgs, "server");
    const store = await openDataStore(options);
    const { presentClientSummary } = await import("../server/api/clients/presenter.ts");
    const rows = (await store.clients.list()).map((c) => presentClientSummary(c, Date.now()));
    await store.close();
    if (options.json) return console.log(JSON.stringify(rows));
    if (rows.length === 0) return console.log("No clients yet. Add one with: sentinel clients add NAME");
    const table = rows.map((r) => [
      r.name,
      r.id,
      r.status,
      r.liveness,
      r.last_seen ?? "never",
      r.tags.join(",") || "-",
    ]);
    const head = ["NAME", "ID", "STATUS", "LIVENESS", "LAST SEEN", "TAGS"];
    const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => String(r[i]).length)));
    for (const r of [head, ...table])
      console.log(
        r
          .map((c, i) => String(c).padEnd(widths[i] ?? 0))
          .join("  ")
          .trimEnd(),
      );
  },
});

const remove = defineCommand({
  meta: { name: "remove", description: "Delete a client and its state (sentinel clients remove NAME|ID)" },
  args: {
    client: { type: "positional", description: "Client name or id", required: true },
    ...cittyArgs(removeSpecs),
  },
  async run({ rawArgs }) {
    const { options, positionals } = loadOptions(removeSpecs, rawArgs, "server");
    const which = oneName(positionals, "client NAME or ID");
    const store = await openDataStore(options);
    const { findClient } = await import("../server/enrollment.ts");
    const c = await findClient(store, which);
    if (!c) throw new OptionError(`no client named ${JSON.stringify(which)}`);
    await store.transaction(async (tx) => {
      await tx.clients.remove(c.id);
      await auditCli(tx, "client.delete", c.name, { client_id: c.id });
    });
    store.changes.publish("client.changed", { clientId: c.id });
    await store.close();
    console.log(`Removed client ${JSON.stringify(c.name)} (id ${c.id}).`);
  },
});

const rotate = defineCommand({
  meta: {
    name: "rotate",
    description: "Issue a new secret; the old one works for --grace (sentinel clients rotate NAME)",
  },
  args: {
    client: { type: "positional", description: "Client name or id", required: true },
    ...cittyArgs(rotateSpecs),
  },
  async run({ rawArgs }) {
    const { options, positionals } = loadOptions(rotateSpecs, rawArgs, "server");
    const which = oneName(positionals, "client NAME or ID");
    const { store, keyring } = await openDataStoreAndKey(options);
    const { findClient, rotateClientSecret } = await import("../server/enrollment.ts");
    const c = await findClient(store, which);
    if (!c) throw new OptionError(`no client named ${JSON.stringify(which)}`);
    const serverUrl = await tokenServerUrl(store, options.publicUrl);
    const e = await store.transaction(async (tx) => {
      const rotated = await rotateClientSecret(tx, keyring, c, serverUrl, Date.now(), options.grace);
      await auditCli(tx, "client.rotate", c.name, {
        client_id: c.id,
        grace_s: Math.round(options.grace / 1000),
      });
      return rotated;
    });
    store.changes.publish("client.changed", { clientId: c.id });
    await store.close();
    if (options.json)
      return console.log(JSON.stringify({ id: e.id, secret: e.secret, token: e.token, command: e.command }));
    console.log(
      `New secret for ${JSON.stringify(c.name)}; the old one is accepted for ${formatDuration(options.grace)}.`,
    );
    printEnrollment(e);
  },
});

export default defineCommand({
  meta: { name: "clients", description: "Manage clients: add, list, remove, rotate" },
  subCommands: { add, list, remove, rotate },
});

export const clientsCommandSpecs = {
  add: { ...addSpecs, ...addOnlySpecs },
  list: listSpecs,
  remove: removeSpecs,
  rotate: rotateSpecs,
};
