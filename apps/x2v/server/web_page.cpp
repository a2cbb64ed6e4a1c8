// The page at / of `x2v serve`: a form, live progress, the video in the page, the task list with cancel.
// Plain HTML, CSS and JavaScript in one string: no build step, no CDN. Query parameters fill the form
// (?prompt=...&steps=...) and `autosubmit=1` submits it, so a headless browser can drive it.
#include "server/http_api.h"

namespace x2v::server {

const std::string& web_page() {
  static const std::string page = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>x2v</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 1.5rem auto; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.4rem; }
  form { display: grid; grid-template-columns: 9rem 1fr; gap: .4rem .8rem; align-items: center; }
  textarea { height: 4rem; }
  input, textarea, button { font: inherit; padding: .3rem; }
  .row { display: flex; gap: .5rem; }
  #progress { margin: 1rem 0; min-height: 1.5rem; }
  progress { width: 100%; }
  video { max-width: 100%; margin-top: .5rem; background: #000; }
  table { border-collapse: collapse; width: 100%; margin-top: 1rem; font-size: .9rem; }
  td, th { border-bottom: 1px solid #ddd; padding: .25rem .4rem; text-align: left; }
  .error { color: #b00020; }
</style>
</head>
<body>
<h1>x2v</h1>
<form id="form">
  <label for="prompt">Prompt</label><textarea id="prompt" required>a cat walking on the beach at sunset</textarea>
  <label for="negative">Negative prompt</label><input id="negative" placeholder="the config's, else Wan's default">
  <label>Size (h x w)</label><div class="row"><input id="height" type="number" min="16" step="16" placeholder="config">
    <input id="width" type="number" min="16" step="16" placeholder="config"></div>
  <label for="frames">Frames</label><input id="frames" type="number" min="1" placeholder="config (4n+1)">
  <label for="steps">Steps</label><input id="steps" type="number" min="1" placeholder="config">
  <label for="seed">Seed</label><input id="seed" type="number" min="0" placeholder="config">
  <label for="key">API key</label><input id="key" type="password" placeholder="only if the server asks for one">
  <span></span><button id="submit" type="submit">Generate</button>
</form>
<div id="progress"></div>
<div id="result"></div>
<h2>Tasks</h2>
<table><thead><tr><th>task</th><th>status</th><th>progress</th><th></th></tr></thead><tbody id="tasks"></tbody></table>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const headers = () => ($("key").value ? { Authorization: "Bearer " + $("key").value } : {});
async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...headers(), ...(options.headers || {}) } });
  if (!response.ok) {
    let detail = response.statusText;
    try { const body = await response.json(); detail = JSON.stringify(body.detail ?? body); } catch (e) {}
    throw new Error(response.status + ": " + detail);
  }
  return response;
}
function describe(progress) {
  if (!progress || !progress.stage) return "";
  const eta = progress.eta_seconds ? ", eta " + progress.eta_seconds.toFixed(1) + " s" : "";
  return progress.stage + " " + progress.step + "/" + progress.total + eta;
}
async function showResult(id) {
  const blob = await (await api("/v1/tasks/" + id + "/result")).blob();
  const video = document.createElement("video");
  video.id = "video";
  video.controls = true;
  video.muted = true;
  // What a test (or a user) can read off the page: the first frame decoded, or why not.
  video.addEventListener("loadeddata", () => { video.dataset.ready = "1"; video.dataset.size = video.videoWidth + "x" + video.videoHeight; });
  video.addEventListener("error", () => { video.dataset.error = String(video.error && video.error.code); });
  video.src = URL.createObjectURL(blob);
  $("result").replaceChildren(video);
}
async function follow(id) {
  for (;;) {
    const status = await (await api("/v1/tasks/" + id + "/status")).json();
    const p = status.progress || {};
    $("progress").innerHTML = "";
    const label = document.createElement("div");
    label.textContent = id + ": " + status.status + " " + describe(p);
    $("progress").append(label);
    if (p.total) { const bar = document.createElement("progress"); bar.max = p.total; bar.value = p.step; $("progress").append(bar); }
    if (status.status === "completed") { await showResult(id); return; }
    if (status.status === "failed" || status.status === "cancelled") {
      label.className = "error"; label.textContent = id + ": " + status.status + (status.error ? ": " + status.error : "");
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
$("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { prompt: $("prompt").value };
  if ($("negative").value) body.negative_prompt = $("negative").value;
  if ($("height").value && $("width").value) body.target_shape = [Number($("height").value), Number($("width").value)];
  if ($("frames").value) body.target_video_length = Number($("frames").value);
  if ($("steps").value) body.infer_steps = Number($("steps").value);
  if ($("seed").value) body.seed = Number($("seed").value);
  $("result").replaceChildren();
  try {
    const created = await (await api("/v1/tasks/video/", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })).json();
    await follow(created.task_id);
  } catch (error) {
    $("progress").innerHTML = "";
    const line = document.createElement("div"); line.className = "error"; line.textContent = error.message;
    $("progress").append(line);
  }
});
async function refreshTasks() {
  try {
    const tasks = await (await api("/v1/tasks/")).json();
    const rows = Object.values(tasks).reverse().map((task) => {
      const row = document.createElement("tr");
      for (const text of [task.task_id, task.status, describe(task.progress)]) {
        const cell = document.createElement("td"); cell.textContent = text; row.append(cell);
      }
      const cell = document.createElement("td");
      if (task.status === "pending" || task.status === "processing") {
        const cancel = document.createElement("button"); cancel.textContent = "cancel";
        cancel.onclick = () => api("/v1/tasks/" + task.task_id, { method: "DELETE" }).then(refreshTasks);
        cell.append(cancel);
      } else if (task.status === "completed") {
        const link = document.createElement("a"); link.textContent = "download";
        link.href = "/v1/files/download/" + encodeURIComponent(task.save_result_path); cell.append(link);
      }
      row.append(cell);
      return row;
    });
    $("tasks").replaceChildren(...rows);
  } catch (error) {}
}
const query = new URLSearchParams(location.search);
for (const [name, id] of [["prompt", "prompt"], ["negative_prompt", "negative"], ["height", "height"], ["width", "width"],
                          ["frames", "frames"], ["steps", "steps"], ["seed", "seed"], ["key", "key"]])
  if (query.has(name)) $(id).value = query.get(name);
refreshTasks();
setInterval(refreshTasks, 2000);
if (query.get("autosubmit") === "1") $("form").requestSubmit();
</script>
</body>
</html>
)HTML";
  return page;
}

}  // namespace x2v::server
