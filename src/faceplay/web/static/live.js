// The live loop shared by the avatar and relight pages.
// Camera → JPEG → WebSocket (4-byte id + JPEG) → server → (16-byte header + JPEG) → canvas.
// At most 3 frames are in flight (?window=N changes it); the server keeps only the newest waiting frame
// and tells us which ones it dropped, so latency stays bounded when the CPU is busy.
"use strict";
class LiveLoop {
  constructor({ effect, video, canvas, onInfo, onError, width = 640, height = 480, window: win = +(new URLSearchParams(location.search).get("window") || 3), quality = 0.8 }) {
    Object.assign(this, { effect, video, canvas, onInfo, onError, width, height, win, quality });
    this.ctx = canvas.getContext("2d");
    this.grab = document.createElement("canvas");
    this.grab.width = width; this.grab.height = height;
    this.gctx = this.grab.getContext("2d");
    this.minInterval = 1000 / 30; this.lastSend = -1e9;
    this.nextId = 1; this.sent = new Map(); this.running = false;
    this.lat = []; this.srv = []; this.arrivals = [];
    this.stats = { fps: 0, p50: 0, p95: 0, server: 0, dropped: 0, faces: 0, frames: 0, sent: 0, inflight: 0 };
    this.samples = [];  // [arrival ms, round trip ms, server ms] of every answered frame (for benchmarks)
    window.faceplayStats = this.stats; window.faceplaySamples = this.samples;
  }
  connect() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    this.ws = new WebSocket(faceplay.withToken(`${proto}://${location.host}/ws/live/${this.effect}`));
    this.ws.binaryType = "arraybuffer";
    this.ws.onopen = () => {
      this.running = true; this.sent.clear();
      if (this.reconnects && this.onError) this.onError("");
      const s = Object.assign({}, this.current, this.pending); this.pending = null;
      if (Object.keys(s).length) this.settings(s);
      this.tick();
    };
    this.ws.onmessage = (ev) => (typeof ev.data === "string" ? this.text(JSON.parse(ev.data)) : this.frame(ev.data));
    this.ws.onclose = (ev) => {
      this.running = false;
      // the server's idle / session time limit (1008 after a fatal message): start a new session once the page is visible
      if (ev.code === 1008 && this.fatal && !this.stopped) { this.fatal = false; this.reconnectWhenVisible(); return; }
      if (ev.code !== 1000 && !this.fatal && this.onError) this.onError(ev.reason || "the connection closed (" + ev.code + ")");
    };
  }
  reconnectWhenVisible() {
    const go = () => {
      if (document.visibilityState !== "visible" || this.stopped) return;
      document.removeEventListener("visibilitychange", go);
      this.reconnects = this.stats.reconnects = (this.reconnects || 0) + 1;
      setTimeout(() => { if (!this.stopped) this.connect(); }, 500);
    };
    document.addEventListener("visibilitychange", go); go();
  }
  settings(obj) {
    this.current = Object.assign(this.current || {}, obj);
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(Object.assign({ type: "settings" }, obj)));
    else this.pending = Object.assign(this.pending || {}, obj);
  }
  text(m) {
    if (m.type === "dropped") { this.sent.delete(m.id); this.stats.dropped = m.dropped; this.tick(); }
    else if (m.type === "error") { if (m.fatal) this.fatal = true; if (m.id !== undefined) { this.sent.delete(m.id); this.tick(); } this.onError && this.onError(m.error); }
    else if (m.type === "info" && this.onInfo) this.onInfo(m);
  }
  async frame(buf) {
    const dv = new DataView(buf);
    const id = dv.getUint32(0, true), serverMs = dv.getFloat32(4, true);
    this.stats.dropped = dv.getUint32(8, true); this.stats.faces = dv.getUint32(12, true);
    const now = performance.now(), t0 = this.sent.get(id);
    this.sent.delete(id);
    if (t0 !== undefined) {
      this.lat.push(now - t0); if (this.lat.length > 120) this.lat.shift();
      if (this.samples.length < 20000) this.samples.push([now, now - t0, serverMs]);
    }
    this.srv.push(serverMs); if (this.srv.length > 120) this.srv.shift();
    this.arrivals.push(now); while (this.arrivals.length && now - this.arrivals[0] > 2000) this.arrivals.shift();
    this.stats.frames += 1;
    this.tick();
    const bmp = await createImageBitmap(new Blob([new Uint8Array(buf, 16)], { type: "image/jpeg" }));
    this.ctx.drawImage(bmp, 0, 0, this.canvas.width, this.canvas.height);
    bmp.close();
    this.update();
  }
  update() {
    const q = (a, p) => { if (!a.length) return 0; const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
    const n = this.arrivals.length;
    this.stats.fps = n > 1 ? (n - 1) * 1000 / (this.arrivals[n - 1] - this.arrivals[0]) : 0;
    this.stats.p50 = q(this.lat, 0.5); this.stats.p95 = q(this.lat, 0.95); this.stats.server = q(this.srv, 0.5);
    this.stats.inflight = this.sent.size;
  }
  tick() {
    if (!this.running || this.busy || this.sent.size >= this.win || this.video.readyState < 2) return;
    const now = performance.now();
    if (now - this.lastSend < this.minInterval) return;  // never faster than the camera
    this.lastSend = now;
    this.busy = true;
    this.gctx.drawImage(this.video, 0, 0, this.width, this.height);
    this.grab.toBlob(async (blob) => {
      const id = this.nextId++;
      const head = new Uint8Array(4); new DataView(head.buffer).setUint32(0, id, true);
      const body = new Uint8Array(await blob.arrayBuffer());
      const msg = new Uint8Array(4 + body.length); msg.set(head, 0); msg.set(body, 4);
      this.busy = false;
      if (!this.running) return;
      this.sent.set(id, performance.now()); this.stats.sent += 1;
      this.ws.send(msg);
      this.tick();
    }, "image/jpeg", this.quality);
  }
  async start() {
    this.stream = await faceplay.camera(this.video, this.width, this.height);
    this.connect();
    this.timer = setInterval(() => this.tick(), 15);
  }
  stop() { this.stopped = true; this.running = false; clearInterval(this.timer); if (this.ws) this.ws.close(1000); }
}

// Stats panel: binds the numbers to elements with data-stat="fps|p50|p95|server|dropped".
function showStats(root) {
  setInterval(() => {
    const s = window.faceplayStats; if (!s) return;
    root.querySelectorAll("[data-stat]").forEach((e) => {
      const k = e.dataset.stat, v = s[k];
      e.textContent = k === "fps" ? v.toFixed(1) : k === "dropped" ? String(v) : Math.round(v) + " ms";
    });
  }, 250);
}

// Record the output canvas to a WebM download. The badge shows the time and size
// recorded so far; stopping before anything was encoded downloads nothing and says so.
function recorder(canvas, button, badge) {
  let rec = null, chunks = [], bytes = 0, started = 0, tick = null;
  const show = () => { badge.textContent = "● REC " + ((Date.now() - started) / 1000).toFixed(1) + " s · " + Math.round(bytes / 1024) + " KB"; };
  button.addEventListener("click", () => {
    if (rec) { rec.stop(); return; }
    chunks = []; bytes = 0; started = Date.now();
    rec = new MediaRecorder(canvas.captureStream(25), { mimeType: "video/webm" });
    rec.ondataavailable = (e) => { if (e.data.size) { chunks.push(e.data); bytes += e.data.size; window.faceplayRecordedBytes = bytes; show(); } };
    rec.onstop = () => {
      clearInterval(tick); rec = null; button.textContent = "● Record";
      if (!bytes) {
        badge.textContent = "nothing recorded yet: record for at least a second";
        setTimeout(() => { badge.style.display = "none"; }, 3000);
        return;
      }
      badge.style.display = "none";
      const a = faceplay.el("a", { href: URL.createObjectURL(new Blob(chunks, { type: "video/webm" })), download: "faceplay-" + Date.now() + ".webm" });
      document.body.append(a); a.click(); a.remove();
    };
    window.faceplayRecordedBytes = 0;
    rec.start(250); show(); tick = setInterval(show, 200);
    button.textContent = "■ Stop & download"; badge.style.display = "block";
  });
}
