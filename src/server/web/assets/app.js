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

  function refreshTimes() {
    const now = Date.now();
    for (const el of document.querySelectorAll("time[data-rel]")) {
      const at = Date.parse(el.getAttribute("datetime"));
      if (!Number.isNaN(at)) el.textContent = ago(now - at);
    }
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
    setInterval(refreshTimes, 5000);
  });

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
