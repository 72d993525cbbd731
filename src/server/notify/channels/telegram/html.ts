/**
 * Telegram HTML: escaping and splitting. Pure.
 *
 * Telegram's HTML parse mode needs only &, < and > escaped (quotes too inside attribute values,
 * which we escape as well). A message may hold at most 4096 characters after entity parsing; we
 * count the raw HTML (always at least as long), so every chunk is safe whatever it contains.
 */

export const TELEGRAM_MAX_CHARS = 4096;

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };

/** Escapes a dynamic value for Telegram HTML text or a double-quoted attribute. */
export function escapeHtml(value: unknown): string {
  return String(value ?? "").replace(/[&<>"]/g, (c) => ESCAPES[c] as string);
}

const TOKEN = /<\/?[a-zA-Z][\w-]*(?:\s[^<>]*)?>|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);|[^<&]+|[<&]/g;
const TAG = /^<(\/?)([a-zA-Z][\w-]*)/;

/** Text as pieces a split may fall between: words with their trailing space, long words by code point. */
function textPieces(text: string, limit: number): string[] {
  const out: string[] = [];
  for (const word of text.match(/\S+\s*|\s+/gu) ?? []) {
    if (word.length <= limit / 4) out.push(word);
    else out.push(...Array.from(word)); // code points: an emoji's surrogate pair is never cut
  }
  return out;
}

/**
 * Splits Telegram HTML into chunks of at most `limit` characters. A split never falls inside a
 * tag, an entity or a surrogate pair; tags open at a split are closed at the end of the chunk
 * and reopened (with their attributes) at the start of the next, so every chunk is well formed.
 */
export function splitHtml(html: string, limit = TELEGRAM_MAX_CHARS): string[] {
  if (html.length <= limit) return [html];
  const chunks: string[] = [];
  const open: { name: string; tag: string }[] = [];
  const closers = () =>
    open
      .map((t) => `</${t.name}>`)
      .reverse()
      .join("");
  const reopeners = () => open.map((t) => t.tag).join("");
  let current = "";
  let hasText = false;

  const flush = () => {
    if (hasText) chunks.push(current + closers());
    current = reopeners();
    hasText = false;
  };
  const add = (unit: string, after: { name: string; tag: string }[]) => {
    const closeLen = after.reduce((n, t) => n + t.name.length + 3, 0);
    if (current.length + unit.length + closeLen > limit && hasText) flush();
    current += unit;
  };

  for (const token of html.match(TOKEN) ?? []) {
    const tag = TAG.exec(token);
    if (tag && token.startsWith("<") && token.endsWith(">")) {
      const name = (tag[2] as string).toLowerCase();
      if (tag[1]) {
        current += token; // room for every closer is reserved as text is added
        const i = open.map((t) => t.name).lastIndexOf(name);
        if (i >= 0) open.splice(i, 1);
      } else {
        add(token, [...open, { name, tag: token }]);
        open.push({ name, tag: token });
      }
      continue;
    }
    const units = token.startsWith("&") && token.endsWith(";") ? [token] : textPieces(token, limit);
    for (const unit of units) {
      add(unit, open);
      if (unit.trim()) hasText = true;
    }
  }
  if (hasText) chunks.push(current + closers());
  return chunks;
}
