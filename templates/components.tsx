/** @jsxImportSource @kitajs/html */
/** Small shared pieces: status badge, verdict chips, exit cell, relative time, icons, CSRF field. */
import type { Children } from "@kitajs/html";
import { countryName, isoTime, utcTime } from "../src/server/web/format.ts";
import type { StripView } from "../src/server/web/history-model.ts";
import type { AsOf, ChipView, ExitView, Status } from "../src/server/web/model.ts";

/** Icons are decorative (aria-hidden): the word next to them carries the meaning. */
export function StatusIcon({ status }: { status: Status }) {
  const paths: Record<Status, string> = {
    green: "M4 8.5l2.5 2.5L12 5.5",
    yellow: "M8 4.5v4.5M8 11.5v.01",
    red: "M5 5l6 6M11 5l-6 6",
    grey: "M5 8h6",
  };
  return (
    <svg class={`icon icon-${status}`} viewBox="0 0 16 16" aria-hidden="true" focusable="false">
      <circle cx="8" cy="8" r="7.25" />
      <path d={paths[status]} />
    </svg>
  );
}

/** Icon (drawn by CSS, so a 1,000-row table stays small) plus the word: never colour alone. */
export function StatusBadge({ status, word, title }: { status: Status; word: string; title?: string }) {
  return (
    <span class={`badge badge-${status}`} title={title} safe>
      {word}
    </span>
  );
}

/** A verdict chip. The reason is a tooltip only where it says something (not on plain "ok"), which keeps 1,000 rows light. */
export function Chip({ chip, stale }: { chip: ChipView; stale?: string }) {
  const problem = chip.severity === "red" || chip.severity === "yellow";
  return (
    <span
      class={`chip chip-${chip.severity}`}
      title={stale ? `${stale}: ${chip.reason}` : problem ? chip.reason : undefined}
    >
      <b safe>{chip.label}</b> <span safe>{chip.word}</span>
    </span>
  );
}

/**
 * The verdict chips. `asOf` marks them as the last known verdicts of a silent client: greyed,
 * and saying when they were true, so an offline client's old "ok" never reads as current.
 */
export function Chips({ chips, asOf }: { chips: ChipView[]; asOf?: AsOf | null }) {
  if (!asOf)
    return (
      <span class="chips">
        {chips.map((c) => (
          <Chip chip={c} />
        ))}
      </span>
    );
  return (
    <span class="chips chips-stale">
      {chips.map((c) => (
        <Chip chip={c} stale={`Last known, ${asOf.text}`} />
      ))}
      <time class="chips-as-of" datetime={isoTime(asOf.at)} safe>
        {asOf.text}
      </time>
    </span>
  );
}

/** The exits of both families, each with what the database knows; a home exit says so in words. */
export function ExitCell({ exits }: { exits: ExitView[] }) {
  if (exits.length === 0) return <span class="muted">no exit yet</span>;
  return (
    <span class="exits">
      {exits.map((exit) => {
        const country = countryName(exit.country);
        return (
          <span class="exit" data-family={String(exit.family)}>
            <span class="mono">
              {exit.family === 6 ? <span class="exit-family">IPv6 </span> : null}
              <span safe>{exit.ip}</span>
              {exit.home ? <span class="tag tag-red">home</span> : null}
            </span>
            <span class="exit-meta">
              {country ? (
                <span title={exit.country ?? undefined} safe>
                  {country}
                </span>
              ) : (
                <span class="muted">country unknown</span>
              )}
              {exit.asn !== null || exit.org ? (
                <span safe>
                  {[exit.asn !== null ? `AS${exit.asn}` : null, exit.org].filter(Boolean).join(" ")}
                </span>
              ) : null}
            </span>
          </span>
        );
      })}
    </span>
  );
}

/**
 * A time. Relative ("12 s ago", from ago()) unless `absolute`: app.js keeps relative ones
 * current between updates, and leaves absolute ones (timelines, logs) alone.
 */
export function RelTime({ at, text, absolute }: { at: number | null; text: string; absolute?: boolean }) {
  if (at === null) return <span class="muted">never</span>;
  return (
    <time
      datetime={isoTime(at)}
      title={absolute ? undefined : utcTime(at)}
      data-rel={absolute ? undefined : ""}
    >
      <span safe>{text}</span>
    </time>
  );
}

export function CsrfField({ token }: { token: string }) {
  return <input type="hidden" name="_csrf" value={token} />;
}

export function Empty({ title, children }: { title: string; children?: Children }) {
  return (
    <div class="empty">
      <p class="empty-title" safe>
        {title}
      </p>
      {children}
    </div>
  );
}

/**
 * A status strip: the real segments of a stretch of time (true start and end, not buckets),
 * one tab stop whose label says what happened (also shown as a tooltip on focus), with each
 * segment's own words as a hover tooltip. `id` lets live updates give focus back.
 */
export function StatusStrip({ strip, id, href }: { strip: StripView; id: string; href: string }) {
  return (
    <a class="strip" id={id} href={href} data-tip={strip.summary}>
      <span class="sr-only" safe>
        {strip.summary}
      </span>
      <svg
        class="strip-svg"
        viewBox="0 0 1000 12"
        preserveAspectRatio="none"
        aria-hidden="true"
        focusable="false"
      >
        {strip.segments.map((s) => (
          <rect x={String(s.x)} y="0" width={String(s.width)} height="12" class={`seg seg-${s.status}`}>
            <title safe>{s.text}</title>
          </rect>
        ))}
      </svg>
    </a>
  );
}

/** "for 14 min": how long a status has held; app.js keeps it current between updates. */
export function Since({ since }: { since: AsOf | null }) {
  if (!since) return null;
  return (
    <time class="since" datetime={isoTime(since.at)} title={`since ${utcTime(since.at)}`} data-for="">
      <span safe>{since.text}</span>
    </time>
  );
}
