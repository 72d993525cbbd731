import { describe, expect, test } from "bun:test";
import { escapeHtml, splitHtml } from "./html.ts";

/** Every tag opened in a chunk is closed in it, in order. */
function balanced(chunk: string): boolean {
  const stack: string[] = [];
  for (const [, close, name] of chunk.matchAll(/<(\/?)([a-z-]+)[^>]*>/g)) {
    if (!close) stack.push(name as string);
    else if (stack.pop() !== name) return false;
  }
  return stack.length === 0;
}

const plainText = (s: string) =>
  s
    .replace(/<[^>]+>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, "&");

describe("escapeHtml", () => {
  test("escapes & < > and quotes, leaves the rest", () => {
    expect(escapeHtml(`<b>&amp;</code> "x" 🙂`)).toBe("&lt;b&gt;&amp;amp;&lt;/code&gt; &quot;x&quot; 🙂");
    expect(escapeHtml(null)).toBe("");
  });
});

describe("splitHtml", () => {
  test("short text is one chunk, unchanged", () => {
    expect(splitHtml("<b>hi</b> &amp; bye")).toEqual(["<b>hi</b> &amp; bye"]);
  });

  test("long text splits under the limit, never inside a tag, entity or emoji, and keeps every character", () => {
    const name = `<b>&amp;</code>🙂${"ab🙂 ".repeat(1300)}`;
    const html = `🔴 <b>${escapeHtml(name)}</b> is offline\n\n<code>${escapeHtml("x&y ".repeat(800))}</code>\n<a href="https://e.example/c?a=1&amp;b=2">link</a>`;
    const chunks = splitHtml(html, 4096);
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) {
      expect(c.length).toBeLessThanOrEqual(4096);
      expect(balanced(c)).toBe(true);
      expect(c).not.toMatch(/&[a-z]*$/); // no entity cut at the end
      expect(c).not.toMatch(/^[a-z]*;/);
      expect(/[\uD800-\uDBFF]$/.test(c)).toBe(false); // no lone high surrogate
      expect(/^[\uDC00-\uDFFF]/.test(c)).toBe(false);
    }
    expect(chunks.map(plainText).join("")).toBe(plainText(html));
    // a tag open across a split is reopened with its attributes
    expect(chunks.slice(1).some((c) => c.startsWith("<b>") || c.startsWith("<code>"))).toBe(true);
  });

  test("a tiny limit still produces well-formed chunks", () => {
    const html = `<i>${"word ".repeat(50)}</i><a href="https://x.example">${"y".repeat(100)}</a>`;
    const chunks = splitHtml(html, 60);
    for (const c of chunks) {
      expect(c.length).toBeLessThanOrEqual(60);
      expect(balanced(c)).toBe(true);
    }
    expect(chunks.map(plainText).join("")).toBe(plainText(html));
  });
});
