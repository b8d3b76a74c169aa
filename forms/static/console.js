// Console enhancements only: every page works without JavaScript (a Refresh link, a
// server-side count on the round check page).
//
// - A round's status page polls its numbers every few seconds and updates them in place
//   (inside an aria-live="polite" region); when the round's status changes, it reloads.
// - The new round form counts the organisations its audience reaches as boxes are ticked.
// - A table wider than the screen (a phone's) says so above it: "Scroll the table sideways
//   to see every column". The shadows at its edges need no script.

const live = document.querySelector("[data-status-url]");
if (live) {
  const url = live.dataset.statusUrl;
  const seconds = Number(live.dataset.pollSeconds || "5");
  const shown = live.dataset.roundStatus;
  let timer = null;

  const update = async () => {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) return;
      const numbers = await response.json();
      if (numbers.status !== shown) {
        window.location.reload();
        return;
      }
      for (const element of live.querySelectorAll("[data-stat]")) {
        const value = numbers[element.dataset.stat];
        if (value !== undefined && element.textContent !== String(value)) {
          element.textContent = String(value);
        }
      }
    } catch {
      // Offline for a moment: the next poll tries again.
    }
  };

  const start = () => {
    if (timer === null && shown === "open") timer = window.setInterval(update, seconds * 1000);
  };
  const stop = () => {
    if (timer !== null) window.clearInterval(timer);
    timer = null;
  };
  // Poll only while the page is visible.
  document.addEventListener("visibilitychange", () => (document.hidden ? stop() : (update(), start())));
  start();
}

const audience = document.querySelector("[data-audience-url]");
if (audience) {
  const output = audience.querySelector(".tempcheck-audience__count");
  const form = audience.closest("form");
  let pending = null;

  const count = async () => {
    const query = new URLSearchParams();
    for (const input of audience.querySelectorAll("input:checked")) {
      query.append(input.name, input.value);
    }
    try {
      const response = await fetch(`${audience.dataset.audienceUrl}?${query}`, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (response.ok && output) output.textContent = (await response.json()).text;
    } catch {
      // Keep the last count: the check page counts again anyway.
    }
  };

  if (form) {
    form.addEventListener("change", (event) => {
      if (!audience.contains(event.target)) return;
      window.clearTimeout(pending);
      pending = window.setTimeout(count, 250);
    });
  }
}

const wraps = document.querySelectorAll(".tempcheck-table-wrap");
if (wraps.length) {
  const hints = new Map();
  wraps.forEach((wrap, n) => {
    const hint = document.createElement("p");
    hint.className = "tempcheck-scroll-hint";
    hint.id = `tempcheck-scroll-hint-${n + 1}`;
    hint.textContent = "Scroll the table sideways to see every column.";
    hint.hidden = true;
    wrap.before(hint);
    hints.set(wrap, hint);
  });
  const mark = () => {
    for (const [wrap, hint] of hints) {
      const scrolls = wrap.scrollWidth > wrap.clientWidth + 1;
      hint.hidden = !scrolls;
      if (scrolls) wrap.setAttribute("aria-describedby", hint.id);
      else wrap.removeAttribute("aria-describedby");
    }
  };
  mark();
  window.addEventListener("resize", mark);
}
