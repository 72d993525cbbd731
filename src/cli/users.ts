/**
 * `sentinel users add|list|remove|passwd`: dashboard users in the data dir. Passwords come from
 * stdin (typed without echo on a terminal, or piped: the first line), never from argv, where
 * `ps` and shell history would show them.
 */
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
    description: "admin (everything) or viewer (read only, no secrets)",
    default: "viewer",
    check: (v: string) => (v === "admin" || v === "viewer" ? undefined : "must be admin or viewer"),
  },
  config,
} satisfies OptionSpecs;
const listSpecs = {
  ...serverDataDirSpecs,
  json: { kind: "boolean", description: "Print JSON", flagOnly: true },
  config,
} satisfies OptionSpecs;
const removeSpecs = {
  ...serverDataDirSpecs,
  force: { kind: "boolean", description: "Allow removing the last admin", flagOnly: true },
  config,
} satisfies OptionSpecs;
const passwdSpecs = { ...serverDataDirSpecs, config } satisfies OptionSpecs;

const oneName = (positionals: string[]) => {
  if (positionals.length !== 1) throw new OptionError("expected exactly one user NAME");
  return positionals[0] as string;
};

const openData = openDataStore;

/** Reads one line from a terminal with echo off. */
async function readHidden(prompt: string): Promise<string> {
  process.stderr.write(prompt);
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let text = "";
      const onData = (chunk: Buffer) => {
        for (const ch of chunk.toString("utf8")) {
          if (ch === "\r" || ch === "\n") {
            stdin.off("data", onData);
            process.stderr.write("\n");
            return resolve(text);
          }
          if (ch === "\u0003") {
            stdin.off("data", onData);
            process.stderr.write("\n");
            return reject(new OptionError("cancelled"));
          }
          if (ch === "\u007f" || ch === "\b") text = text.slice(0, -1);
          else text += ch;
        }
      };
      stdin.on("data", onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}

/** A password from stdin: asked twice on a terminal, else the first line of the piped input. */
export async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) {
    const first = await readHidden("Password: ");
    const again = await readHidden("Repeat password: ");
    if (first !== again) throw new OptionError("the passwords do not match");
    return first;
  }
  const text = await Bun.stdin.text();
  return text.split(/\r?\n/)[0] ?? "";
}

const add = defineCommand({
  meta: {
    name: "add",
    description:
      "Create a dashboard user; the password is read from stdin (sentinel users add NAME --role admin)",
  },
  args: { name: { type: "positional", description: "User name", required: true }, ...cittyArgs(addSpecs) },
  async run({ rawArgs }) {
    const { options, positionals } = loadOptions(addSpecs, rawArgs, "server");
    const name = oneName(positionals);
    const { checkUserName, checkPassword, createUser } = await import("../server/auth/users.ts");
    const bad = checkUserName(name);
    if (bad) throw new OptionError(bad);
    const store = await openData(options);
    try {
      if (await store.auth.getUserByName(name))
        throw new OptionError(`a user named ${JSON.stringify(name)} already exists`);
      const password = await readPassword();
      const weak = checkPassword(password);
      if (weak) throw new OptionError(weak);
      const role = options.role as "admin" | "viewer";
      const user = await createUser(store, { name, role, password }, Date.now());
      await auditCli(store, "user.add", user.name, { role });
      console.log(`Created ${role} ${JSON.stringify(user.name)}.`);
    } finally {
      await store.close();
    }
  },
});

const list = defineCommand({
  meta: { name: "list", description: "List dashboard users" },
  args: cittyArgs(listSpecs),
  async run({ rawArgs }) {
    const { options } = loadOptions(listSpecs, rawArgs, "server");
    const store = await openData(options);
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    const now = Date.now();
    const rows = (await store.auth.listUsers()).map((u) => ({
      id: u.id,
      name: u.name,
      role: u.role,
      created_at: iso(u.createdAt),
      last_login_at: iso(u.lastLoginAt),
      locked: u.lockedUntil !== null && u.lockedUntil > now,
    }));
    await store.close();
    if (options.json) return console.log(JSON.stringify(rows));
    if (rows.length === 0)
      return console.log("No users yet. Add one with: sentinel users add NAME --role admin");
    for (const r of rows)
      console.log(
        `${r.name}\t${r.role}\tlast login ${r.last_login_at ?? "never"}${r.locked ? "\tLOCKED" : ""}`,
      );
  },
});

const remove = defineCommand({
  meta: { name: "remove", description: "Delete a dashboard user and end their sessions" },
  args: { name: { type: "positional", description: "User name", required: true }, ...cittyArgs(removeSpecs) },
  async run({ rawArgs }) {
    const { options, positionals } = loadOptions(removeSpecs, rawArgs, "server");
    const name = oneName(positionals);
    const { isLastAdmin } = await import("../server/auth/users.ts");
    const store = await openData(options);
    try {
      const user = await store.auth.getUserByName(name);
      if (!user) throw new OptionError(`no user named ${JSON.stringify(name)}`);
      if ((await isLastAdmin(store, user)) && !options.force)
        throw new OptionError(
          `${JSON.stringify(user.name)} is the last admin; add another admin first, or pass --force`,
        );
      await store.auth.removeUser(user.id);
      await auditCli(store, "user.remove", user.name);
      console.log(`Removed user ${JSON.stringify(user.name)}.`);
    } finally {
      await store.close();
    }
  },
});

const passwd = defineCommand({
  meta: {
    name: "passwd",
    description: "Set a user's password from stdin; ends their sessions and lifts a lockout",
  },
  args: { name: { type: "positional", description: "User name", required: true }, ...cittyArgs(passwdSpecs) },
  async run({ rawArgs }) {
    const { options, positionals } = loadOptions(passwdSpecs, rawArgs, "server");
    const name = oneName(positionals);
    const { changePassword, checkPassword } = await import("../server/auth/users.ts");
    const store = await openData(options);
    try {
      const user = await store.auth.getUserByName(name);
      if (!user) throw new OptionError(`no user named ${JSON.stringify(name)}`);
      const password = await readPassword();
      const weak = checkPassword(password);
      if (weak) throw new OptionError(weak);
      await changePassword(store, user, password, Date.now());
      await auditCli(store, "user.password", user.name);
      console.log(`Password changed for ${JSON.stringify(user.name)}; their sessions were ended.`);
    } finally {
      await store.close();
    }
  },
});

export default defineCommand({
  meta: { name: "users", description: "Manage dashboard users: add, list, remove, passwd" },
  subCommands: { add, list, remove, passwd },
});

export const usersCommandSpecs = { add: addSpecs, list: listSpecs, remove: removeSpecs, passwd: passwdSpecs };
