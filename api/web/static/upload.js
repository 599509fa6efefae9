// Drop files: Uppy sends each over tus to /uploads/ (resumable, with progress), then the
// page follows the task the completed upload names until its asset is ready.
import { apiKey, authHeaders, readAnswer } from "./session.js";

const TASK_HEADER = "Assetflow-Task-Id";
const FOLLOW_MS = 1000;
// Chunks small enough to resume after a lost connection without sending much again.
const CHUNK_BYTES = 8 * 1024 * 1024;
const status = document.getElementById("upload-status");
const list = document.getElementById("uploaded");
const fields = document.getElementById("upload-fields");

function line(file) {
  const item = document.createElement("li");
  item.dataset.file = file.name;
  item.textContent = `${file.name}: uploaded, waiting for its task…`;
  list.append(item);
  return item;
}

async function taskOf(response) {
  const xhr = response && response.body && response.body.xhr;
  const named = xhr && xhr.getResponseHeader(TASK_HEADER);
  if (named) return named;
  const head = await fetch(response.uploadURL, {
    method: "HEAD",
    headers: { ...authHeaders(), "Tus-Resumable": "1.0.0" },
  });
  return head.headers.get(TASK_HEADER);
}

async function follow(item, name, taskId) {
  const task = (await readAnswer(await fetch(`/tasks/${taskId}`))).data; // the /tasks envelope
  if (task.status === "failed") {
    item.textContent = `${name}: failed: ${task.error}`;
    item.dataset.state = "failed";
    return;
  }
  if (task.status !== "completed") {
    item.textContent = `${name}: ${task.status}, ${task.progress}%`;
    setTimeout(() => follow(item, name, taskId).catch((e) => fail(item, name, e)), FOLLOW_MS);
    return;
  }
  const asset = await readAnswer(await fetch(`/assets/${task.asset_id}`));
  const edge = (name) => Number(name.slice("SIZE_".length));
  const sizes = asset.formats
    .map((format) => format.name)
    .filter((name) => name.startsWith("SIZE_"))
    .sort((a, b) => edge(a) - edge(b));
  item.replaceChildren();
  const link = document.createElement("a");
  link.href = `/library/${asset.id}`;
  link.textContent = asset.title || asset.identifier;
  item.append(link, `: ${asset.status}`);
  if (sizes.length) item.append(`, sizes ${sizes.join(", ")}`);
  item.dataset.state = asset.status;
}

function fail(item, name, error) {
  item.textContent = `${name}: ${error.message}`;
  item.dataset.state = "failed";
}

if (!apiKey()) {
  status.textContent = "Sign out and sign in again in this tab to upload: uploads send the key with each request.";
} else {
  const uppy = new Uppy.Uppy({ autoProceed: true })
    .use(Uppy.DragDrop, { target: "#drop" })
    .use(Uppy.StatusBar, { target: "#progress", hideAfterFinish: false })
    .use(Uppy.Tus, {
      endpoint: "/uploads/",
      headers: authHeaders(),
      chunkSize: CHUNK_BYTES,
      removeFingerprintOnSuccess: true,
      retryDelays: [0, 1000, 3000, 5000],
    });
  uppy.on("file-added", (file) => {
    const values = new FormData(fields);
    uppy.setFileMeta(file.id, {
      project: values.get("project") || "default",
      tags: values.get("tags") || "",
      title: file.name,
    });
  });
  uppy.on("upload-success", async (file, response) => {
    const item = line(file);
    try {
      const taskId = await taskOf(response);
      if (!taskId) throw new Error("the server named no task for this upload");
      await follow(item, file.name, taskId);
    } catch (error) {
      fail(item, file.name, error);
    }
  });
  uppy.on("upload-error", (file, error) => {
    fail(line(file), file.name, error);
  });
}
