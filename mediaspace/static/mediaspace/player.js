// The entry page's player: the interactive transcript (the cue being said is marked, a cue seeks there, a filter
// narrows the list) and the seek previews (the sprite's tile for the time under the pointer or just sought to).
(function () {
  const player = document.getElementById("player");
  if (!player || !("currentTime" in player)) return;

  const transcript = document.querySelector("[data-transcript]");
  if (transcript) {
    const list = transcript.querySelector("ol");
    const buttons = Array.from(list.querySelectorAll("button[data-start]"));
    const starts = buttons.map((button) => parseFloat(button.dataset.start));
    const ends = buttons.map((button) => parseFloat(button.dataset.end));
    let current = null;

    // The last cue that has started by `time` and not yet ended (cues are in order of their start).
    function cueAt(time) {
      let low = 0, high = starts.length - 1, found = -1;
      while (low <= high) {
        const middle = (low + high) >> 1;
        if (starts[middle] <= time) { found = middle; low = middle + 1; } else { high = middle - 1; }
      }
      return found >= 0 && time < ends[found] ? buttons[found] : null;
    }

    function mark() {
      const cue = cueAt(player.currentTime);
      if (cue === current) return;
      if (current) current.removeAttribute("aria-current");
      current = cue;
      if (!cue) return;
      cue.setAttribute("aria-current", "true");
      // Keep the cue in sight within the list, without scrolling the page or taking the focus.
      const item = cue.parentElement;
      const above = item.offsetTop < list.scrollTop;
      const below = item.offsetTop + item.offsetHeight > list.scrollTop + list.clientHeight;
      if (!item.hidden && (above || below)) {
        list.scrollTop = item.offsetTop - list.clientHeight / 3;
      }
    }

    player.addEventListener("timeupdate", mark);
    player.addEventListener("seeked", mark);
    list.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-start]");
      if (!button) return;
      player.currentTime = parseFloat(button.dataset.start);
      mark();
    });

    const filter = transcript.querySelector("[data-transcript-filter]");
    const count = transcript.querySelector("[data-transcript-count]");
    const texts = buttons.map((button) => button.textContent.toLocaleLowerCase());
    let pending = null;
    filter.addEventListener("input", () => {
      clearTimeout(pending);
      pending = setTimeout(() => {
        const words = filter.value.trim().toLocaleLowerCase();
        let shown = 0;
        buttons.forEach((button, index) => {
          const keep = !words || texts[index].includes(words);
          button.parentElement.hidden = !keep;
          if (keep) shown += 1;
        });
        count.textContent = words ? count.dataset.template
          ? count.dataset.template.replace("%(shown)s", shown).replace("%(total)s", buttons.length)
          : `${shown} / ${buttons.length}` : "";
      }, 120);
    });
  }

  const seekTrack = player.querySelector("track[data-seek-previews]");
  const preview = document.querySelector(".seek-preview");
  if (seekTrack && preview) {
    const track = seekTrack.track;
    track.mode = "hidden";  // loads the cues without showing them
    let hideLater = null;

    function show(time, left) {
      const cues = track.cues;
      if (!cues || !cues.length || !Number.isFinite(time)) return;
      let cue = null;
      for (let index = 0; index < cues.length; index += 1) {
        if (cues[index].startTime <= time) cue = cues[index]; else break;
      }
      const match = cue && /^(.*)#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(cue.text.trim());
      if (!match) return;
      const [, url, x, y, width, height] = match;
      preview.style.backgroundImage = `url("${url}")`;
      preview.style.backgroundPosition = `-${x}px -${y}px`;
      preview.style.width = `${width}px`;
      preview.style.height = `${height}px`;
      const room = player.clientWidth - parseInt(width, 10);
      preview.style.left = `${Math.max(0, Math.min(room, left - parseInt(width, 10) / 2))}px`;
      preview.hidden = false;
    }

    function hide() { preview.hidden = true; }

    // Over the bottom of the picture, where the controls and their seek bar are.
    player.addEventListener("mousemove", (event) => {
      const box = player.getBoundingClientRect();
      if (!player.duration || box.bottom - event.clientY > 48) { hide(); return; }
      const x = event.clientX - box.left;
      show(player.duration * Math.min(1, Math.max(0, x / box.width)), x);
    });
    player.addEventListener("mouseleave", hide);
    // A seek from the keyboard (arrow keys on the player) shows where it went, for a moment.
    player.addEventListener("seeking", () => {
      if (!player.duration) return;
      show(player.currentTime, player.clientWidth * player.currentTime / player.duration);
      clearTimeout(hideLater);
      hideLater = setTimeout(hide, 1200);
    });
  }
})();
