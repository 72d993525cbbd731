/**
 * Shields-style flat badges ("VPN | protected"), drawn as SVG text with a width computed from
 * Verdana's character widths at 11 px (what shields.io and every badge in a README use), so the
 * two halves fit their words without a font at render time. Pure.
 */

/** Advance widths of Verdana 11 px, in px (printable ASCII from 32; the rest count as "m"-wide). */
const WIDTHS = [
  3.87, 4.33, 5.05, 9.0, 7.0, 11.84, 7.99, 2.95, 5.0, 5.0, 7.0, 9.0, 4.0, 5.0, 4.0, 5.0, 7.0, 7.0, 7.0, 7.0,
  7.0, 7.0, 7.0, 7.0, 7.0, 7.0, 5.0, 5.0, 9.0, 9.0, 9.0, 6.0, 11.0, 7.52, 7.54, 7.68, 8.48, 6.96, 6.32, 8.53,
  8.27, 4.63, 5.0, 7.62, 6.12, 9.27, 8.23, 8.66, 6.63, 8.66, 7.65, 7.52, 6.78, 8.05, 7.52, 10.88, 7.54, 6.77,
  7.54, 5.0, 5.0, 5.0, 9.0, 7.0, 7.0, 6.61, 6.87, 5.73, 6.87, 6.55, 3.87, 6.87, 6.96, 3.02, 3.79, 6.51, 3.02,
  10.71, 6.96, 6.68, 6.87, 6.87, 4.69, 5.73, 4.33, 6.96, 6.51, 9.0, 6.51, 6.51, 5.78, 6.98, 5.0, 6.98, 9.0,
];

export function textWidth(text: string): number {
  let w = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    w += code >= 32 && code < 127 ? (WIDTHS[code - 32] as number) : 10.71;
  }
  return w;
}

const escapeXml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c] as string,
  );

export const BADGE_COLORS = {
  green: "#4c1",
  lightgreen: "#97ca00",
  yellow: "#dfb317",
  orange: "#fe7d37",
  red: "#e05d44",
  grey: "#9f9f9f",
} as const;
export type BadgeColor = keyof typeof BADGE_COLORS;

/** A flat badge: a grey label half and a coloured message half, with a title for screen readers. */
export function badgeSvg(label: string, message: string, color: BadgeColor): string {
  const pad = 10;
  const lw = Math.round(textWidth(label) + pad);
  const mw = Math.round(textWidth(message) + pad);
  const w = lw + mw;
  const l = escapeXml(label);
  const m = escapeXml(message);
  // text is drawn at 10x and scaled down, as shields.io does, for crisp sub-pixel placement
  const lx = Math.round(lw * 5);
  const mx = Math.round((lw + mw / 2) * 10);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="20" role="img" aria-label="${l}: ${m}"><title>${l}: ${m}</title><linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><clipPath id="r"><rect width="${w}" height="20" rx="3" fill="#fff"/></clipPath><g clip-path="url(#r)"><rect width="${lw}" height="20" fill="#555"/><rect x="${lw}" width="${mw}" height="20" fill="${BADGE_COLORS[color]}"/><rect width="${w}" height="20" fill="url(#s)"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="110"><text aria-hidden="true" x="${lx}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="${(lw - pad) * 10}">${l}</text><text x="${lx}" y="140" transform="scale(.1)" textLength="${(lw - pad) * 10}">${l}</text><text aria-hidden="true" x="${mx}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="${(mw - pad) * 10}">${m}</text><text x="${mx}" y="140" transform="scale(.1)" textLength="${(mw - pad) * 10}">${m}</text></g></svg>`;
}
