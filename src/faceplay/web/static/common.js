// Shared page helpers: token from ?token=, API calls with JSON errors, health line.
"use strict";
const faceplay = (() => {
  const token = new URLSearchParams(location.search).get("token") || "";
  function withToken(url) {
    return token ? url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : url;
  }
  async function api(path, opts = {}) {
    opts.headers = Object.assign({}, opts.headers || {}, token ? { Authorization: "Bearer " + token } : {});
    const r = await fetch(path, opts);
    if (!r.ok) {
      let msg = r.status + " " + r.statusText;
      try { msg = (await r.json()).error || msg; } catch (e) { /* not JSON */ }
      throw new Error(msg);
    }
    const ct = r.headers.get("content-type") || "";
    return ct.includes("application/json") ? r.json() : r.blob();
  }
  async function pollJob(job, onProgress) {
    for (;;) {
      const j = await api(job.status_url);
      onProgress && onProgress(j);
      if (j.status === "done") return j;
      if (j.status === "failed") throw new Error(j.error || "the job failed");
      await new Promise((r) => setTimeout(r, 400));
    }
  }
  function nav() {
    document.querySelectorAll("header nav a").forEach((a) => {
      if (a.getAttribute("href") === location.pathname) a.classList.add("active");
      if (token) a.href = a.getAttribute("href") + "?token=" + encodeURIComponent(token);
    });
    api("/api/health").then((h) => {
      const el = document.querySelector("header .health");
      if (el) el.textContent = "faceplay " + h.version + " · " +
        Object.entries(h.features).map(([k, v]) => (v ? "✓ " : "✗ ") + k).join("  ");
    }).catch(() => {});
  }
  function el(tag, attrs = {}, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
    }
    kids.forEach((k) => e.append(k));
    return e;
  }
  async function camera(video, width = 640, height = 480) {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width, height }, audio: false });
    video.srcObject = stream;
    await video.play();
    return stream;
  }
  document.addEventListener("DOMContentLoaded", nav);
  return { token, withToken, api, pollJob, el, camera };
})();
