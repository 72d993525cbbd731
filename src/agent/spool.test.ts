import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Spool, type SpoolEntry } from "./spool.ts";

let dir = "";
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const fresh = () => {
  dir = mkdtempSync(join(tmpdir(), "sentinel-spool-"));
  return join(dir, "spool");
};

describe("Spool", () => {
  test("keeps order across a restart and removes delivered entries", async () => {
    const path = fresh();
    const a = new Spool({ dir: path, max: 10 });
    await a.open();
    for (const n of [1, 2, 3]) await a.push(`{"n":${n}}`);
    await a.remove((a.peek() as SpoolEntry).id);
    const b = new Spool({ dir: path, max: 10 });
    await b.open();
    expect(b.list().map((e) => e.body)).toEqual(['{"n":2}', '{"n":3}']);
    // new entries continue the sequence after the old ones
    await b.push('{"n":4}');
    expect(b.list().map((e) => e.body)).toEqual(['{"n":2}', '{"n":3}', '{"n":4}']);
    expect(readdirSync(path).sort()).toEqual(b.list().map((e) => `${e.id}.json`));
  });

  test("bounded: drops the oldest first and says which", async () => {
    const path = fresh();
    const dropped: string[] = [];
    const s = new Spool({ dir: path, max: 3, onDrop: (d) => dropped.push(...d.map((e) => e.body)) });
    await s.open();
    for (const n of [1, 2, 3, 4, 5]) await s.push(`${n}`);
    expect(s.list().map((e) => e.body)).toEqual(["3", "4", "5"]);
    expect(dropped).toEqual(["1", "2"]);
    expect(readdirSync(path)).toHaveLength(3);
  });

  test("a smaller bound on restart trims what an earlier run left", async () => {
    const path = fresh();
    const s = new Spool({ dir: path, max: 10 });
    await s.open();
    for (const n of [1, 2, 3, 4]) await s.push(`${n}`);
    let warned = 0;
    const t = new Spool({ dir: path, max: 2, onDrop: (d) => (warned += d.length) });
    await t.open();
    expect(t.list().map((e) => e.body)).toEqual(["3", "4"]);
    expect(warned).toBe(2);
  });

  test("ignores foreign files and removes interrupted temp files", async () => {
    const path = fresh();
    const s = new Spool({ dir: path, max: 10 });
    await s.open();
    await s.push("1");
    writeFileSync(join(path, "0000000000000009.json.tmp"), "half");
    writeFileSync(join(path, "README"), "x");
    const t = new Spool({ dir: path, max: 10 });
    await t.open();
    expect(t.list().map((e) => e.body)).toEqual(["1"]);
    expect(readdirSync(path).sort()).toEqual(["0000000000000001.json", "README"]);
  });

  test("an unusable directory falls back to memory and reports it", async () => {
    if (process.getuid?.() === 0) {
      // root ignores permissions: use a path below a regular file instead
      fresh();
      const file = join(dir, "file");
      writeFileSync(file, "x");
      await checkFallback(join(file, "spool"));
    } else {
      const path = fresh();
      const s = new Spool({ dir: path, max: 10 });
      await s.open();
      chmodSync(path, 0o500);
      await checkFallback(path);
      chmodSync(path, 0o700);
    }
  });
});

async function checkFallback(path: string) {
  const errors: Error[] = [];
  const s = new Spool({ dir: path, max: 10, onDiskError: (e) => errors.push(e) });
  await s.open();
  const e = await s.push("1");
  expect(e.onDisk).toBe(false);
  expect(s.size).toBe(1);
  expect(errors.length).toBeGreaterThan(0);
  await s.remove(e.id);
  expect(s.size).toBe(0);
}
