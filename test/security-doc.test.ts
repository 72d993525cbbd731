/**
 * docs/security.md backs every claim with a test it names (`file` › "test name", ...): each
 * named file exists and holds a test (or describe block) of that name, so a renamed or deleted
 * test cannot leave a claim unbacked.
 */
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const squash = (s: string) => s.replace(/\s+/g, " ");

test("every test docs/security.md names exists", () => {
  const doc = squash(readFileSync(join(ROOT, "docs/security.md"), "utf8"));
  const refs = [...doc.matchAll(/`([\w./-]+\.test\.ts)` › ((?:"[^"]+"(?:, )?)+)/g)];
  expect(refs.length).toBeGreaterThan(30);
  for (const [, file, list] of refs) {
    expect(existsSync(join(ROOT, file as string)), file).toBe(true);
    const source = squash(readFileSync(join(ROOT, file as string), "utf8"));
    for (const [, name] of (list as string).matchAll(/"([^"]+)"/g)) {
      // table-driven names ("tampered body → 401") are built from a row name and its outcome
      const stem = (name as string).replace(/ → .*$/, "");
      expect(source.includes(stem), `${file} › "${name}"`).toBe(true);
    }
  }
});
