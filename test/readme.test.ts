/** The README's configuration reference is generated from the commands; it must be current. */
import { expect, test } from "bun:test";
import { END, renderReference, START } from "../scripts/options-reference.ts";

test("README.md lists every option of every command, exactly as the code defines them", async () => {
  const readme = await Bun.file(`${import.meta.dir}/../README.md`).text();
  const block = readme.slice(readme.indexOf(START), readme.indexOf(END) + END.length);
  // On failure run `bun run docs:options` and commit README.md.
  expect(block).toBe(await renderReference());
});

test("the README names the test command CI runs and the docs it links exist", async () => {
  const readme = await Bun.file(`${import.meta.dir}/../README.md`).text();
  expect(readme).toContain("bun run test:ci");
  for (const [, path] of readme.matchAll(/\]\((docs\/[^)]+|contrib\/[^)]+)\)/g)) {
    expect(await Bun.file(`${import.meta.dir}/../${path}`).exists()).toBe(true);
  }
});
