// Keeps the status and progress of entries that are still importing or processing up to date.
(function () {
  const WORKING = ["pending", "importing", "processing"];
  const nodes = () => Array.from(document.querySelectorAll("[data-entry]")).filter(
    (node) => WORKING.includes(node.dataset.status));
  const statusUrl = document.querySelector("[data-status-url]").dataset.statusUrl;
  async function refresh() {
    const waiting = nodes();
    if (!waiting.length) return;
    const ids = waiting.map((node) => node.dataset.entry).join(",");
    try {
      const response = await fetch(`${statusUrl}?ids=${ids}`, { credentials: "same-origin" });
      const states = await response.json();
      let finished = false;
      for (const node of waiting) {
        const state = states[node.dataset.entry];
        if (!state) continue;
        const bar = node.querySelector("progress");
        if (bar && state.percent !== null) bar.value = state.percent;
        const label = node.querySelector(".status-label");
        if (label) label.textContent = state.status_label;
        const percent = node.querySelector(".status-percent");
        if (percent && state.percent !== null) percent.textContent = `${state.percent} %`;
        // Done (ready, failed), or on to processing, whose percent the page then shows: the page anew.
        const processing = (status) => status === "processing";
        if (!WORKING.includes(state.status) || processing(state.status) !== processing(node.dataset.status)) {
          finished = true;
        }
      }
      if (finished) { window.location.reload(); return; }
    } catch (error) { /* try again on the next tick */ }
    setTimeout(refresh, 2000);
  }
  setTimeout(refresh, 2000);
})();
