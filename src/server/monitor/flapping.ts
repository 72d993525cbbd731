/**
 * Flap control: a client that changes state again and again (a tunnel reconnecting every few
 * minutes) must not flood the user. At FLAP_THRESHOLD changes inside FLAP_WINDOW_MS one
 * client.flapping event is raised; later flips are still stored but suppressed until the client
 * has been stable for a whole window, when a second client.flapping event (to "stable") reports
 * the state it settled in, so a problem hidden by suppression is never lost.
 */
import type { StatusSummary } from "./status.ts";
import type { FlapState, Flip } from "./types.ts";

export const FLAP_WINDOW_MS = 10 * 60_000;
export const FLAP_THRESHOLD = 4;

/** Enough history to count to the threshold; keeps the state JSON small for chatty clients. */
const MAX_TRACKED_CHANGES = 16;

export const STABLE: FlapState = { changes: [], flapping_since: null };

/** When a flapping client counts as stable again (last change + window), or null when not flapping. */
export function flapStableAt(flap: FlapState): number | null {
  const last = flap.changes.at(-1);
  return flap.flapping_since === null || last === undefined ? null : last + FLAP_WINDOW_MS;
}

/**
 * Only flips that would alert count as changes: first_seen is not a change, flapping events are
 * the control itself, and already suppressed flips (replayed, paused) describe no live change.
 */
const countsAsChange = (flip: Flip) =>
  !flip.suppressed && flip.kind !== "client.first_seen" && flip.kind !== "client.flapping";

/**
 * Passes one batch of flips (from one report or one sweep, counted as one change) through flap
 * control at time `now`. `current` is the client's status after the batch; the flapping events
 * carry it so the user learns where the client stands.
 */
export function controlFlapping(
  flap: FlapState,
  flips: Flip[],
  now: number,
  current: StatusSummary,
): { flap: FlapState; flips: Flip[] } {
  const out: Flip[] = [];
  let state = flap;
  const stableAt = flapStableAt(state);
  if (stableAt !== null && now >= stableAt) {
    out.push({
      kind: "client.flapping",
      from: "flapping",
      to: "stable",
      evidence: {
        reason: `Stable again for ${FLAP_WINDOW_MS / 60_000} min; now ${current.status}: ${current.reason}`,
        flapping_since: state.flapping_since,
        status: current.status,
      },
      at: now,
      suppressed: false,
    });
    state = STABLE;
  }

  const changes = flips.filter(countsAsChange);
  if (changes.length === 0) return { flap: state, flips: [...out, ...flips] };

  const recent = [...state.changes.filter((at) => now - at < FLAP_WINDOW_MS), now].slice(
    -MAX_TRACKED_CHANGES,
  );
  if (state.flapping_since !== null) {
    const quieted = flips.map((flip) => (countsAsChange(flip) ? { ...flip, suppressed: true } : flip));
    return { flap: { changes: recent, flapping_since: state.flapping_since }, flips: [...out, ...quieted] };
  }
  if (recent.length < FLAP_THRESHOLD)
    return { flap: { changes: recent, flapping_since: null }, flips: [...out, ...flips] };

  out.push(...flips, {
    kind: "client.flapping",
    from: "stable",
    to: "flapping",
    evidence: {
      reason: `${recent.length} changes in ${FLAP_WINDOW_MS / 60_000} min: alerts are held until the client is stable for ${FLAP_WINDOW_MS / 60_000} min. Now ${current.status}: ${current.reason}`,
      changes: recent,
      status: current.status,
    },
    at: now,
    suppressed: false,
  });
  return { flap: { changes: recent, flapping_since: now }, flips: out };
}
