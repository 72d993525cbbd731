/** Options shared by `sentinel server` and the commands that work on its data dir. */
import { hostname } from "node:os";
import type { OptionSpecs } from "../config/options.ts";

/** Where the data is when it is not (only) in the data dir: a PostgreSQL database, a key file. */
const storeLocationSpecs = {
  database: {
    kind: "string",
    description:
      "PostgreSQL URL (postgres://user:pass@host:5432/db?sslmode=require) shared by several servers; default: SQLite in --data-dir",
    valueHint: "URL",
    secret: true, // the URL may carry a password
    check: (v: string) =>
      /^postgres(ql)?:\/\/./i.test(v) ? undefined : "must be a postgres:// or postgresql:// URL",
  },
  serverKeyFile: {
    kind: "string",
    description:
      "The server key (seals client secrets); must exist; default: server.key in --data-dir (created on first start)",
    valueHint: "FILE",
  },
} satisfies OptionSpecs;

export const dataDirSpecs = {
  dataDir: {
    kind: "string",
    description: "Directory for the database and the server key",
    default: "./data",
    valueHint: "DIR",
  },
  ...storeLocationSpecs,
} satisfies OptionSpecs;

/** Only `sentinel server` tunes its connections. */
export const databaseTuningSpecs = {
  databasePoolSize: {
    kind: "int",
    description: "PostgreSQL: connections in this server's pool (two more: change feed, leader lock)",
    default: 10,
    check: (v: number) => (v >= 1 && v <= 1000 ? undefined : "must be 1 to 1000"),
  },
  databaseStatementTimeout: {
    kind: "duration",
    description: "PostgreSQL: a statement running longer is cancelled, and a report waiting on it gets 503",
    default: "5s",
    check: (v: number) => (v >= 100 ? undefined : "must be at least 100ms"),
  },
} satisfies OptionSpecs;

/** For the commands that manage a server's data: they work on its data dir, never start a new one. */
export const serverDataDirSpecs = {
  dataDir: {
    ...dataDirSpecs.dataDir,
    description: "The server's data dir (made by the server's first start; these commands never create one)",
  },
  ...storeLocationSpecs,
} satisfies OptionSpecs;

export const publicUrlSpecs = {
  publicUrl: {
    kind: "string",
    description:
      "URL clients and people use to reach this server (enrollment tokens, alert links); default http://<hostname>:<listen port>. Kept in the data dir for `sentinel clients add`",
    valueHint: "URL",
    check: (v: string) => (/^https?:\/\/[^\s/]+/.test(v) ? undefined : "must be an http:// or https:// URL"),
  },
} satisfies OptionSpecs;

/** The guess when --public-url is not set: this host's name and the port the server listens on. */
export const defaultPublicUrl = (port = 8088) => `http://${hostname()}:${port || 8088}`;

export interface ListenAddress {
  hostname: string;
  port: number;
}

/** "0.0.0.0:8088", "[::]:8088" or ":8088" (all addresses). */
export function parseListen(text: string): ListenAddress | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  return { hostname: m[1] ?? (m[2] || "0.0.0.0"), port };
}

/** The --listen check: a port alone is a common slip, so it gets the spelling that works. */
export function checkListen(text: string): string | undefined {
  if (parseListen(text)) return undefined;
  const port = /^\s*(\d{1,5})\s*$/.exec(text)?.[1];
  if (port)
    return `"${text}" needs a colon before the port: use :${port} (all addresses) or 127.0.0.1:${port}`;
  return "must look like 0.0.0.0:8088, [::]:8088 or :8088";
}
