/**
 * The files container users copy: contrib/compose.yaml, the Containerfile and the Containers
 * section of docs/operations.md name only environment variables the commands really read, and
 * the compose file wires the client into gluetun's namespace with its token from a secret.
 * (The images themselves are tested with real containers by `bun run test:container`.)
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { clientSpecs } from "../src/cli/client.ts";
import { healthcheckSpecs } from "../src/cli/healthcheck.ts";
import { serverSpecs } from "../src/cli/server.ts";
import { envName, type OptionSpecs } from "../src/config/options.ts";

const ROOT = join(import.meta.dir, "..");
const read = (path: string) => Bun.file(join(ROOT, path)).text();
const envVars = (specs: OptionSpecs) =>
  new Set(
    Object.entries(specs)
      .filter(([, s]) => !s.flagOnly)
      .map(([k]) => envName(k)),
  );
const BY_COMMAND: Record<string, Set<string>> = {
  server: envVars(serverSpecs),
  client: new Set([...envVars(clientSpecs), ...envVars(healthcheckSpecs)]),
};
const ANY = new Set([...(BY_COMMAND.server ?? []), ...(BY_COMMAND.client ?? [])]);
/** Every SENTINEL_* in a text, comments included: an example is copied as often as a setting. */
const mentioned = (text: string) => [...new Set(text.match(/SENTINEL_[A-Z0-9_]+/g) ?? [])];

interface Service {
  image?: string;
  command?: string;
  network_mode?: string;
  environment?: Record<string, string>;
  secrets?: string[];
  volumes?: string[];
  env_file?: string[];
}

describe("contrib/compose.yaml", async () => {
  const text = await read("contrib/compose.yaml");
  const compose = Bun.YAML.parse(text) as {
    services: Record<string, Service>;
    secrets: Record<string, { file: string }>;
    volumes: Record<string, unknown>;
  };
  const sentinels = Object.entries(compose.services).filter(([name]) => name.startsWith("sentinel-"));

  test("names only variables sentinel reads (SENTINEL_IMAGE is compose's own)", () => {
    expect(mentioned(text).filter((v) => v !== "SENTINEL_IMAGE" && !ANY.has(v))).toEqual([]);
    for (const [name, s] of sentinels) {
      const known = BY_COMMAND[s.command ?? ""];
      expect(known, `${name} runs server or client`).toBeDefined();
      expect(
        Object.keys(s.environment ?? {}).filter((v) => !known?.has(v)),
        name,
      ).toEqual([]);
    }
  });

  test("every sentinel runs the same image and keeps /data on a named volume", () => {
    expect(new Set(sentinels.map(([, s]) => s.image)).size).toBe(1);
    for (const [name, s] of sentinels) {
      const volume = (s.volumes ?? []).find((v) => v.endsWith(":/data"))?.split(":")[0];
      expect(volume, name).toBeDefined();
      expect(compose.volumes).toHaveProperty(volume as string);
    }
  });

  test("the client is a sidecar of gluetun with its token from a secret; the host client uses the host's network", () => {
    const client = compose.services["sentinel-client"] as Service;
    expect(client.network_mode).toBe("service:gluetun");
    expect(compose.services.gluetun).toBeDefined();
    const secret = client.secrets?.[0] as string;
    expect(compose.secrets[secret]?.file).toBeString();
    expect(client.environment?.SENTINEL_TOKEN_FILE).toBe(`/run/secrets/${secret}`);
    expect(client.environment).not.toHaveProperty("SENTINEL_TOKEN");
    const host = compose.services["sentinel-host-client"] as Service;
    expect(host.command).toBe("client");
    expect(host.network_mode).toBe("host");
  });
});

test("the Containerfile and the docs' Containers section name only variables sentinel reads", async () => {
  const containerfile = await read("Containerfile");
  expect(mentioned(containerfile).filter((v) => !ANY.has(v))).toEqual([]);
  expect(containerfile).toContain(
    'HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["sentinel", "healthcheck"]',
  );
  const ops = await read("docs/operations.md");
  const section = ops.slice(
    ops.indexOf("## Containers"),
    ops.indexOf("\n## ", ops.indexOf("## Containers") + 1),
  );
  expect(section.length).toBeGreaterThan(1000);
  expect(mentioned(section).filter((v) => v !== "SENTINEL_IMAGE" && !ANY.has(v))).toEqual([]);
});
