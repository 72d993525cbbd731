/** Options shared by `sentinel server` and the commands that work on its data dir. */
import { hostname } from "node:os";
import type { OptionSpecs } from "../config/options.ts";

export const dataDirSpecs = {
  dataDir: {
    kind: "string",
    description: "Directory for the database and the server key",
    default: "./data",
    valueHint: "DIR",
  },
} satisfies OptionSpecs;

/** For the commands that manage a server's data: they work on its data dir, never start a new one. */
export const serverDataDirSpecs = {
  dataDir: {
    ...dataDirSpecs.dataDir,
    description: "The server's data dir (made by the server's first start; these commands never create one)",
  },
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
