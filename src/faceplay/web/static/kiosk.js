// Lookalike kiosk: capture or upload → /api/lookalike → winner + top 3; gallery stats and adding files.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const el = faceplay.el;
  const errors = (m) => { $("error").textContent = m; };
  const pct = (x) => (x * 100).toFixed(1) + "%";

  function attrs(a) {
    const parts = [];
    if (a.gender) parts.push(a.gender);
    if (a.age !== undefined && a.age !== null) parts.push("~" + Math.round(a.age) + " y");
    if (a.expression) parts.push(a.expression);
    if (a.face_shape) parts.push(a.face_shape + " face");
    return parts.join(" · ") || "attributes unknown";
  }
  function explain(m) {
    const c = m.contributions || {};
    const terms = Object.entries(c).map(([k, v]) => `<b>${k}</b> ${v >= 0 ? "+" : ""}${v.toFixed(3)}`).join(", ");
    return `score ${m.score.toFixed(3)} = ${terms}. ` +
      (m.rank_by_identity === 1 ? "Also the closest by identity alone." : `Rank ${m.rank_by_identity} by identity alone; the attribute match moved it up.`);
  }
  function card(m, i, isWinner) {
    return el("div", { class: "card" + (isWinner ? " winner" : ""), "data-testid": "candidate" },
      el("img", { src: m.thumbnail || "", alt: m.source }),
      el("div", { class: "name", text: (i + 1) + ". " + m.source + (m.timestamp !== null ? " @" + m.timestamp.toFixed(1) + "s" : "") }),
      el("div", { class: "meta", text: "similarity " + pct(m.similarity) + " · score " + m.score.toFixed(3) }),
      el("div", { class: "bar" }, Object.assign(el("div"), { style: `width:${Math.max(0, Math.min(1, m.similarity)) * 100}%` })),
      el("div", { class: "meta", text: attrs(m.attributes || {}) }));
  }
  function show(res) {
    const w = res.winner;
    $("winner").replaceChildren(
      el("img", { src: w.thumbnail || "", alt: "winner", "data-testid": "winner" }),
      Object.assign(el("div"), { innerHTML:
        `<div class="big">${w.source}</div>` +
        `<div class="terms">similarity <b>${pct(w.similarity)}</b> · re-ranked score <b>${w.score.toFixed(3)}</b></div>` +
        `<div class="terms">them: ${attrs(w.attributes || {})}<br>you: ${attrs(res.query || {})}</div>` +
        `<div class="terms" style="margin-top:8px">${explain(w)}</div>` +
        `<div class="terms">${res.candidates} candidates compared out of ${res.gallery_entries} faces.</div>` }));
    $("top").replaceChildren(...res.top.map((m, i) => card(m, i, i === 0)));
    $("results").style.display = "block";
  }
  async function search(blob, name) {
    errors(""); $("status").textContent = "searching…";
    const fd = new FormData(); fd.append("file", blob, name);
    try { show(await faceplay.api("/api/lookalike", { method: "POST", body: fd })); $("status").textContent = "done"; }
    catch (e) { errors(e.message); $("status").textContent = "ready"; }
  }
  async function stats() {
    try {
      const s = await faceplay.api("/api/gallery/stats");
      const rows = [["faces", s.entries], ["files", s.files], ["photos", s.images], ["videos", s.videos], ["model", s.embedding_model || "–"], ["backend", s.backend || "–"]];
      $("stats").replaceChildren(...rows.map(([k, v]) => el("tr", {}, el("td", { text: k }), el("td", { text: String(v ?? 0), "data-stat": k }))));
    } catch (e) { errors(e.message); }
  }
  $("capture").onclick = () => {
    const c = $("shot"); c.getContext("2d").drawImage($("cam"), 0, 0, 640, 480);
    c.toBlob((b) => search(b, "camera.jpg"), "image/jpeg", 0.92);
  };
  $("upload").onchange = () => { const f = $("upload").files[0]; if (f) search(f, f.name); };
  $("add").onchange = async () => {
    const files = [...$("add").files]; if (!files.length) return;
    const fd = new FormData(); files.forEach((f) => fd.append("files", f, f.name));
    $("addbar").style.width = "0"; $("addmsg").textContent = "uploading " + files.length + " file(s)…";
    try {
      const job = await faceplay.api("/api/gallery/add", { method: "POST", body: fd });
      const done = await faceplay.pollJob(job, (j) => { $("addbar").style.width = (j.progress * 100) + "%"; $("addmsg").textContent = j.message || j.status; });
      const r = done.result;
      $("addmsg").textContent = `added ${r.faces_added} face(s) from ${r.files_added} file(s)` + (r.files_skipped ? `, ${r.files_skipped} already there` : "") + (r.failed.length ? `, ${r.failed.length} failed` : "");
      $("addmsg").dataset.done = "1";
      stats();
    } catch (e) { errors(e.message); $("addmsg").textContent = "failed"; }
    $("add").value = "";
  };
  stats();
  faceplay.camera($("cam")).then(() => { $("status").textContent = "ready"; }).catch((e) => { $("status").textContent = "no camera: upload a photo"; });
})();
