// "Find this clip": POST /match with the clip; list the assets it was cut from and where.
import { authHeaders, readAnswer, apiKey } from "./session.js";

const form = document.getElementById("match-form");
const status = document.getElementById("match-status");
const results = document.getElementById("match-results");

function clock(seconds) {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// The asset's title (GET /assets/{id}), or its id when it cannot be read.
async function titleOf(assetId) {
  const response = await fetch(`/assets/${assetId}`);
  if (!response.ok) return assetId;
  const asset = await response.json();
  return asset.title || asset.identifier;
}

if (form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    results.replaceChildren();
    if (!apiKey()) {
      status.textContent = "Sign out and sign in again in this tab to send a clip.";
      return;
    }
    const body = new FormData();
    body.append("clip", form.elements.clip.files[0]);
    status.textContent = "Listening…";
    try {
      const answer = await readAnswer(await fetch("/match", { method: "POST", body, headers: authHeaders() }));
      status.textContent = answer.data.length
        ? `Found in ${answer.data.length} asset${answer.data.length === 1 ? "" : "s"}:`
        : "No asset holds this clip.";
      for (const found of answer.data) {
        const item = document.createElement("li");
        const link = document.createElement("a");
        link.href = `/library/${found.asset_id}`;
        link.textContent = await titleOf(found.asset_id);
        item.append(link, ` at ${clock(found.offset_s)} (score ${found.score.toFixed(2)})`);
        results.append(item);
      }
    } catch (error) {
      status.textContent = `The clip could not be matched: ${error.message}`;
    }
  });
}
