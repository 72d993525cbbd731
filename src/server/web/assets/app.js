// VPN Sentinel dashboard behaviour: theme, copy buttons, relative times, and the live-update
// fallback. Loaded from /assets (the CSP allows no inline script). Runs before first paint so
// the stored theme applies without a flash.
(() => {
  const root = document.documentElement;
  const THEME_KEY = "sentinel-theme";
  root.classList.add("js");

  const storedTheme = () => {
    try {
      return localStorage.getItem(THEME_KEY);
    } catch {
      return null;
    }
  };
  const systemDark = () => window.matchMedia("(prefers-color-scheme: dark)").matches;
  const effectiveTheme = () => root.dataset.theme || (systemDark() ? "dark" : "light");
  const initial = storedTheme();
  if (initial === "dark" || initial === "light") root.dataset.theme = initial;

  function labelToggle(button) {
    const next = effectiveTheme() === "dark" ? "light" : "dark";
    button.setAttribute("aria-label", `Switch to ${next} theme`);
    button.title = `Switch to ${next} theme`;
  }

  function toggleTheme(button) {
    const next = effectiveTheme() === "dark" ? "light" : "dark";
    root.dataset.theme = next;
    try {
      localStorage.setItem(THEME_KEY, next);
    } catch {
      // private mode: the choice lasts for this page only
    }
    labelToggle(button);
  }

  function announce(text) {
    let region = document.getElementById("sr-announcer");
    if (!region) {
      region = document.createElement("div");
      region.id = "sr-announcer";
      region.className = "sr-only";
      region.setAttribute("role", "status");
      document.body.appendChild(region);
    }
    region.textContent = text;
  }

  async function copyFrom(button) {
    const source = document.querySelector(button.dataset.copy);
    if (!source) return;
    const text = source.textContent.trim();
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Clipboard API needs a secure context; fall back to selecting the text for Ctrl+C.
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      announce("Selected. Press Control+C to copy.");
      return;
    }
    const label = button.textContent;
    button.textContent = "Copied";
    announce("Copied to the clipboard.");
    setTimeout(() => {
      button.textContent = label;
    }, 1500);
  }

  // Same wording as the server's ago(), so a refresh never changes the text's shape.
  function ago(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 2) return "just now";
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return `${Math.floor(s / 86400)} d ago`;
  }

  // Same wording as the server's span(): "45 s", "12 min", "3 h 5 min", "2 d 4 h".
  function span(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min`;
    const h = Math.floor(m / 60);
    if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
    const d = Math.floor(h / 24);
    return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
  }

  function refreshTimes() {
    const now = Date.now();
    for (const el of document.querySelectorAll("time[data-rel]")) {
      const at = Date.parse(el.getAttribute("datetime"));
      if (!Number.isNaN(at)) el.textContent = ago(now - at);
    }
    for (const el of document.querySelectorAll("time[data-for]")) {
      const at = Date.parse(el.getAttribute("datetime"));
      if (!Number.isNaN(at)) el.textContent = `for ${span(now - at)}`;
    }
  }

  // The tab's title carries the red count ("(2 exposed) Overview · VPN Sentinel"), kept current
  // from the status counts that live updates swap in.
  function updateTitle() {
    const counts = document.getElementById("status-counts");
    if (!counts) return;
    const red = Number(counts.dataset.red || 0);
    const base = document.title.replace(/^\(\d+ exposed\) /, "");
    document.title = red > 0 ? `(${red} exposed) ${base}` : base;
  }

  // Rows whose status or checks changed since the page last looked are highlighted for a
  // moment (live updates replace rows in place; a refetch replaces the whole list). A data
  // attribute, not a class: htmx puts a swapped element's old classes back while it settles.
  // The list refetch that follows a flip replaces the row again: the highlight is kept by id.
  const HIGHLIGHT_MS = 2600;
  const rowSigs = new Map();
  const changedUntil = new Map();
  function markChangedRows(highlight) {
    const now = Date.now();
    for (const row of document.querySelectorAll("tr[data-sig]")) {
      const before = rowSigs.get(row.id);
      const sig = row.dataset.sig;
      rowSigs.set(row.id, sig);
      if (highlight && before !== undefined && before !== sig) {
        changedUntil.set(row.id, now + HIGHLIGHT_MS);
        setTimeout(() => {
          if ((changedUntil.get(row.id) ?? 0) > Date.now()) return;
          changedUntil.delete(row.id);
          const current = document.getElementById(row.id);
          if (current) delete current.dataset.changed;
        }, HIGHLIGHT_MS);
      }
      if ((changedUntil.get(row.id) ?? 0) > now && row.dataset.changed === undefined)
        row.dataset.changed = "";
    }
  }

  function afterUpdate() {
    markChangedRows(true);
    updateTitle();
  }

  // Live updates: the SSE extension reports open/error; while the stream is down, every
  // [data-live] region refetches itself every POLL_MS and the indicator says so.
  const POLL_MS = 10000;
  let pollTimer = null;
  let wasDown = false;

  function setLive(state) {
    for (const el of document.querySelectorAll("[data-live-indicator]")) {
      el.dataset.state = state;
      const text = el.querySelector("[data-live-text]");
      if (!text) continue;
      text.textContent =
        state === "live"
          ? "Live"
          : state === "polling"
            ? "Live updates interrupted: refreshing every 10 s"
            : "Connecting…";
    }
  }

  function pollNow() {
    if (!window.htmx) return;
    for (const el of document.querySelectorAll("[data-live]")) window.htmx.trigger(el, "poll");
  }

  function onStreamOpen() {
    if (pollTimer) clearInterval(pollTimer);
    pollTimer = null;
    setLive("live");
    // whatever changed while the stream was down
    if (wasDown) pollNow();
    wasDown = false;
  }

  function onStreamError() {
    wasDown = true;
    setLive("polling");
    if (!pollTimer) pollTimer = setInterval(pollNow, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const b of document.querySelectorAll("[data-theme-toggle]")) labelToggle(b);
    if (document.querySelector("[data-live-root]")) setLive("connecting");
    markChangedRows(false);
    setInterval(refreshTimes, 5000);
  });
  // htmx gives focus back to the element with the same id after a swap (rows, links and strips
  // carry ids for that); what is left is telling the eye what changed
  document.addEventListener("htmx:afterSettle", afterUpdate);
  document.addEventListener("htmx:oobAfterSwap", afterUpdate);

  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const toggle = target?.closest("[data-theme-toggle]");
    if (toggle) return toggleTheme(toggle);
    const copy = target?.closest("[data-copy]");
    if (copy) void copyFrom(copy);
  });

  // Escape closes the user menu, as people expect of a popup.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    for (const d of document.querySelectorAll("details.user-menu[open]")) {
      d.removeAttribute("open");
      d.querySelector("summary")?.focus();
    }
  });

  document.addEventListener("htmx:sseOpen", onStreamOpen);
  document.addEventListener("htmx:sseError", onStreamError);
  // A session that ended (sign-out elsewhere, expiry) sends the page to the sign-in form.
  document.addEventListener("htmx:responseError", (event) => {
    if (event.detail?.xhr?.status === 401)
      location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
  });
})();
