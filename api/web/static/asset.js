// The asset page's live parts: scrubbing previews, the waveform, jobs followed to their end.
const media = document.getElementById("media");

// --- Scrubbing previews: the keyframe map's WebVTT names a sprite sheet region per interval.
function parseTime(text) {
  const parts = text.trim().split(":").map(Number);
  return parts.reduce((total, part) => total * 60 + part, 0);
}

function parseVtt(text, sprites) {
  const cues = [];
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.trim().split("\n");
    const timing = lines.findIndex((line) => line.includes("-->"));
    if (timing < 0 || !lines[timing + 1]) continue;
    const [start, end] = lines[timing].split("-->").map(parseTime);
    const [key, fragment] = lines[timing + 1].trim().split("#xywh=");
    const [x, y, w, h] = fragment.split(",").map(Number);
    cues.push({ start, end, url: sprites[key] || key, x, y, w, h });
  }
  return cues;
}

function clock(seconds) {
  const s = Math.floor(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

async function scrubbing(scrub) {
  const seek = document.getElementById("seek");
  const output = document.getElementById("seek-time");
  const preview = scrub.querySelector(".scrub-preview");
  const img = document.getElementById("scrub-img");
  const at = preview.querySelector(".scrub-at");
  const sprites = JSON.parse(document.getElementById("sprites").textContent);
  const response = await fetch(scrub.dataset.vtt);
  if (!response.ok) return;
  const cues = parseVtt(await response.text(), sprites);
  const duration = () => media.duration || (cues.length ? cues[cues.length - 1].end : 1);
  const syncRange = () => {
    seek.max = String(duration());
    seek.value = String(media.currentTime);
    output.textContent = clock(media.currentTime);
  };
  media.addEventListener("loadedmetadata", syncRange);
  media.addEventListener("timeupdate", syncRange);
  syncRange();

  function show(seconds, left) {
    const cue = cues.find((c) => seconds >= c.start && seconds < c.end) || cues[cues.length - 1];
    if (!cue) return;
    preview.hidden = false;
    preview.style.width = `${cue.w}px`;
    preview.style.height = `${cue.h}px`;
    preview.style.left = `${Math.max(0, Math.min(left - cue.w / 2, seek.clientWidth - cue.w))}px`;
    if (img.getAttribute("src") !== cue.url) img.src = cue.url;
    img.style.left = `${-cue.x}px`;
    img.style.top = `${-cue.y}px`;
    at.textContent = clock(seconds);
  }
  const fraction = (event) => {
    const box = seek.getBoundingClientRect();
    return Math.max(0, Math.min(1, (event.clientX - box.left) / box.width));
  };
  seek.addEventListener("pointermove", (event) => {
    const f = fraction(event);
    show(f * duration(), f * seek.clientWidth);
  });
  seek.addEventListener("pointerleave", () => { preview.hidden = true; });
  seek.addEventListener("input", () => {
    media.currentTime = Number(seek.value);
    show(Number(seek.value), (Number(seek.value) / duration()) * seek.clientWidth);
  });
  seek.addEventListener("blur", () => { preview.hidden = true; });
}

const scrub = document.querySelector(".scrub[data-vtt]");
if (scrub && media) scrubbing(scrub);

// --- The waveform: peaks.js draws the BBC audiowaveform JSON and seeks the media on a click.
const waveform = document.getElementById("waveform");

async function drawWaveform() {
  const response = await fetch(waveform.dataset.json);
  if (!response.ok) throw new Error(`the waveform answered ${response.status}`);
  const json = await response.json();
  // The stored resolution is the finest zoom: peaks.js cannot draw below it.
  const finest = json.samples_per_pixel;
  const options = {
    zoomview: { container: document.getElementById("zoomview") },
    overview: { container: document.getElementById("overview") },
    mediaElement: media,
    waveformData: { json },
    zoomLevels: [finest, finest * 2, finest * 4, finest * 8],
    keyboard: true,
  };
  const peaks = await new Promise((resolve, reject) => {
    window.peaks.init(options, (error, made) => (error ? reject(error) : resolve(made)));
  });
  const actions = {
    play: () => peaks.player.play(),
    pause: () => peaks.player.pause(),
    zoomin: () => peaks.zoom.zoomIn(),
    zoomout: () => peaks.zoom.zoomOut(),
  };
  for (const button of waveform.querySelectorAll("[data-peaks]")) {
    button.addEventListener("click", actions[button.dataset.peaks]);
  }
  // A turned phone or a resized window: the canvases follow their containers.
  window.addEventListener("resize", () => {
    for (const name of ["zoomview", "overview"]) {
      const view = peaks.views.getView(name);
      if (view) view.fitToContainer();
    }
  });
  waveform.dataset.ready = "true";
}

if (waveform && media && window.peaks) {
  drawWaveform().catch((error) => {
    const problem = document.createElement("p");
    problem.className = "problem";
    problem.textContent = `The waveform could not be drawn: ${error.message}`;
    waveform.append(problem);
  });
}

// --- Jobs under way: follow GET /tasks/{id} until they end, then show the finished asset.
const FOLLOW_MS = 1000;
const running = [...document.querySelectorAll("tr[data-task]")].filter(
  (row) => row.dataset.status === "pending" || row.dataset.status === "running",
);
async function follow(row) {
  const response = await fetch(`/tasks/${row.dataset.task}`);
  if (!response.ok) return;
  const task = (await response.json()).data; // /tasks answers in its envelope
  row.querySelector("progress").value = task.progress;
  row.querySelector(".task-status").textContent = task.error ? `${task.status}: ${task.error}` : task.status;
  if (task.status === "completed" || task.status === "failed") {
    window.location.reload();
    return;
  }
  setTimeout(() => follow(row), FOLLOW_MS);
}
running.forEach(follow);
