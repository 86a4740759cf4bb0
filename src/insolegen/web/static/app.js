// insolegen web app: a form made from the prescription's JSON Schema, a three.js view of the
// insert (viewer.js), rebuilt as a field changes. Everything is served by the local server (no CDN).

// three.js loads while the form is made: the page is usable before the 3D view is
const viewer = import("/static/viewer.js");
async function show(buffers) {
  (await viewer).show(buffers, $("[name=side]").value === "left" && buffers.length === 1 ? -1 : 1);
}

const $ = (sel) => document.querySelector(sel);
const status = (text) => { $("#status").textContent = text; };
// for tests and benchmarks: how many inserts were drawn, the last change-to-screen time and its parts (ms)
const state = (window.insolegen = { ready: false, drawn: 0, lastMs: null, parts: null, pending: 0 });

// ---- form from the JSON Schema -------------------------------------------------------
let schema = null, profiles = [], defaults = {};
// the sections most prescriptions set start open; the lab's and the scan's start closed (the form is long)
const OPEN = new Set(["shell", "arch", "met_pad", "heel_lift", "heel_cup", "posting"]);
const SCAN_ONLY = new Set(["cast", "scan"]);  // used by a scan build only: grouped under "Scan"

function unitOf(name) {
  if (name.endsWith("_mm")) return "mm";
  if (name.endsWith("_pct")) return "%";
  if (name.endsWith("_deg")) return "°";
  return "";
}

function labelOf(name) {
  return name.replace(/_(mm|pct|deg)$/, "").replaceAll("_", " ");
}

function resolveRef(prop) {
  const ref = prop.$ref || (prop.allOf && prop.allOf[0].$ref);
  return ref ? schema.$defs[ref.split("/").pop()] : prop;
}

// a leaf's schema without its null branch (`float | None` is anyOf [{number}, {null}]), and whether it may be unset
function leafOf(prop) {
  if (!prop.anyOf) return { leaf: prop, nullable: false };
  const leaf = prop.anyOf.find((p) => p.type !== "null");
  return { leaf: { ...leaf, description: prop.description }, nullable: prop.anyOf.some((p) => p.type === "null") };
}

function valueAt(data, dotted) {
  return dotted.split(".").reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), data);
}

function fieldFor(dotted, prop) {
  const { leaf, nullable } = leafOf(prop);
  const label = document.createElement("label");
  label.className = "field";
  label.append(labelOf(dotted.split(".").pop()) + " ");
  let input;
  if (leaf.enum) {
    input = document.createElement("select");
    if (nullable) input.append(new Option("unset", ""));
    for (const v of leaf.enum) input.append(new Option(String(v).replaceAll("_", " "), v));
  } else if (leaf.type === "boolean") {
    input = document.createElement("input");
    input.type = "checkbox";
  } else {
    input = document.createElement("input");
    input.type = leaf.type === "number" || leaf.type === "integer" ? "number" : "text";
    input.step = leaf.type === "integer" ? "1" : "any";
    if (leaf.minimum !== undefined) input.min = leaf.minimum;
    if (leaf.maximum !== undefined) input.max = leaf.maximum;
    if (nullable) input.placeholder = "unset";
  }
  input.name = dotted;
  input.dataset.kind = leaf.enum ? "enum" : leaf.type;
  if (nullable) input.dataset.nullable = "true";
  const unit = unitOf(dotted);
  if (unit) { const u = document.createElement("span"); u.className = "unit"; u.textContent = unit; label.append(u); }
  label.append(input);
  const help = document.createElement("small");
  const range = leaf.minimum !== undefined ? `${leaf.minimum} to ${leaf.maximum}${unit ? " " + unit : ""}; ` : "";
  help.textContent = range + (nullable ? "empty: unset; " : "") + (leaf.description || "");
  input.title = help.textContent;
  const err = document.createElement("span");
  err.className = "err";
  err.dataset.for = dotted;
  label.append(help, err);
  return label;
}

// a collapsible group (a top-level section) or a plain fieldset (a section inside one, e.g. zones.heel)
function group(title, description, collapsible, open) {
  const box = document.createElement(collapsible ? "details" : "fieldset");
  const head = document.createElement(collapsible ? "summary" : "legend");
  head.textContent = title;
  box.append(head);
  if (collapsible) box.open = open;
  if (description) { const d = document.createElement("small"); d.textContent = description; box.append(d); }
  return box;
}

// every field of a section, through nested sections, named by its full dotted name
function addFields(box, def, prefix) {
  for (const [name, prop] of Object.entries(def.properties || {})) {
    const inner = resolveRef(prop);
    if (inner.properties) {
      const sub = group(labelOf(name), prop.description || inner.description, false);
      addFields(sub, inner, `${prefix}${name}.`);
      box.append(sub);
    } else {
      box.append(fieldFor(`${prefix}${name}`, prop));
    }
  }
}

function buildForm() {
  const box = $("#rx");
  const scan = group("Scan", "cast modifications and trimming of a foot scan; an outline build ignores them", true, false);
  scan.dataset.section = "scan-only";
  for (const [section, sprop] of Object.entries(schema.properties)) {
    const def = resolveRef(sprop);
    const inScan = SCAN_ONLY.has(section);
    const fs = group(labelOf(section), def.description, !inScan, OPEN.has(section));
    fs.dataset.section = section;
    addFields(fs, def, `${section}.`);
    (inScan ? scan : box).append(fs);
  }
  box.append(scan);
}

function rxInputs() { return [...document.querySelectorAll("#rx [name]")]; }

// open every closed group around an input, so a value set or an error there is seen
function reveal(input) {
  for (let d = input.closest("details"); d; d = d.parentElement.closest("details")) d.open = true;
}

function fill(rx) {
  for (const input of rxInputs()) {
    const value = valueAt(rx, input.name);
    if (value === undefined) continue;
    if (input.type === "checkbox") input.checked = Boolean(value); else input.value = value === null ? "" : value;
    if (JSON.stringify(value) !== JSON.stringify(valueAt(defaults, input.name))) reveal(input);
  }
}

function prescription() {
  const rx = {};
  for (const input of rxInputs()) {
    let value;
    if (input.type === "checkbox") value = input.checked;
    else if (input.value === "" && input.dataset.nullable) value = null;
    else if (input.type === "number") value = input.value === "" ? input.value : Number(input.value);
    else value = input.value;
    const path = input.name.split("."), name = path.pop();
    let table = rx;
    for (const key of path) table = table[key] = table[key] || {};
    table[name] = value;
  }
  return rx;
}

// ---- errors beside their field -------------------------------------------------------
const ALIASES = { "--foot-length": "foot_length_mm", "--foot-width": "foot_width_mm", "--resolution": "resolution",
  "--shoe-size": "shoe_size", "--size-system": "shoe_size", "--tool-diameter": "tool_diameter_mm", "--stepover": "stepover_mm",
  "--feed": "feed_mm_per_min" };
const MILLING = ["tool", "tool_diameter_mm", "stepover_mm", "feed_mm_per_min"];

function clearErrors() {
  document.querySelectorAll(".err").forEach((e) => { e.textContent = ""; });
  document.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
}

function fieldNamed(message) {
  const names = [...document.querySelectorAll(".err[data-for]")].map((e) => e.dataset.for);
  for (const input of ["outline", "scan", "pressure", "batch"]) {  // an upload's error starts with its file name
    const file = $(`input[name=${input}]`).files[0];
    if (file && message.startsWith(file.name)) return input;
  }
  for (const [alias, name] of Object.entries(ALIASES)) if (message.includes(alias)) return name;
  // the field named first (an unknown field's message lists all the known ones after it)
  let best = null, at = Infinity;
  for (const n of names) {
    const found = message.search(new RegExp(`(^|[^\\w.])${n.replaceAll(".", "\\.")}([^\\w.]|$)`));
    if (found >= 0 && found < at) { best = n; at = found; }
  }
  return best;
}

function showError(message) {
  const name = fieldNamed(message);
  const slot = name && document.querySelector(`.err[data-for="${name}"]`);
  if (slot) {
    slot.textContent = message;
    const input = document.querySelector(`[name="${name}"]`);
    if (input) { input.setAttribute("aria-invalid", "true"); reveal(input); }
  } else {
    $("#error").textContent = message;
  }
  status("not built: " + message);
}

// ---- building ------------------------------------------------------------------------
function formData() {
  const data = new FormData();
  data.append("prescription", JSON.stringify(prescription()));
  for (const name of ["side", "resolution", "outline_kind", "units", "foot_length_mm", "foot_width_mm", "scan_units",
    "shoe_size", "size_system"]) {
    data.append(name, document.querySelector(`[name=${name}]`).value);
  }
  for (const name of ["outline", "scan", "pressure"]) {
    const file = $(`input[name=${name}]`).files[0];
    if (file) data.append(name, file, file.name);
  }
  return data;
}

async function post(url, data, signal) {
  const answer = await fetch(url, { method: "POST", body: data, signal });
  const body = await answer.json().catch(() => ({ error: `the server answered ${answer.status}` }));
  if (!answer.ok) throw new Error(body.error || `the server answered ${answer.status}`);
  return body;
}

// the page's build (POST /api/view): the figures and the mesh in one binary answer, read without
// parsing the mesh: uint32 length of the JSON, the JSON, float32 vertices (n, 3), uint32 faces (f, 3)
async function postView(data, signal) {
  const answer = await fetch("/api/view", { method: "POST", body: data, signal });
  if (!answer.ok) {
    const body = await answer.json().catch(() => ({ error: `the server answered ${answer.status}` }));
    throw new Error(body.error || `the server answered ${answer.status}`);
  }
  const bytes = await answer.arrayBuffer();
  const length = new DataView(bytes).getUint32(0, true);
  const figures = JSON.parse(new TextDecoder().decode(new Uint8Array(bytes, 4, length)));
  const at = 4 + length;
  const positions = new Float32Array(bytes, at, 3 * figures.vertices);
  const index = new Uint32Array(bytes, at + 12 * figures.vertices, 3 * figures.faces);
  return { figures, mesh: { positions, index } };
}

async function fetchMesh(url, signal) {
  const answer = await fetch(url, { signal });
  if (!answer.ok) throw new Error(`the mesh could not be fetched (${answer.status}); build again`);
  return answer.arrayBuffer();
}

function fmt(v, digits = 2) { return typeof v === "number" ? v.toFixed(digits) : String(v); }

// the figures of a screen build (see jobs.view); the downloaded report has them all, measured on the file
function showFigures(f) {
  const shell = f.shell, post = shell && shell.post;
  const bodies = post && post.kind === "extrinsic" ? 2 : 1;  // an extrinsic post is a body of its own
  const valid = f.watertight && f.bodies === bodies;
  const rows = [
    f.scan  // a scan's arch is the foot's own, as scanned (arch.height_mm is ignored)
      ? ["arch", `${fmt(f.scan.arch_height_mm, 1)} mm at ${fmt(f.scan.arch_apex.pct_length, 0)}% (scanned; fill ${fmt(f.scan.as_built.arch_fill_mm)})`]
      : ["arch", `${fmt(f.arch_mm)} mm at ${fmt(f.arch_at_pct_length, 0)}% (set ${f.set.arch_mm})`],
    ["heel lift", `${fmt(f.heel_lift_mm)} mm (set ${f.set.heel_lift_mm})`],
    ["met pad", f.set.met_pad ? `${fmt(f.met_pad_mm)} mm, ${fmt(f.met_pad_behind_met_line_mm, 1)} mm behind the heads` : "off"],
    f.scan  // a scan's rim: the heel's sides and the border kept to these heights over the seat
      ? ["rim", `heel ${fmt(f.set.heel_cup_mm, 0)} mm, border ${fmt(f.set.rim_mm, 0)} mm over the seat`]
      : ["heel cup", `${fmt(f.heel_cup_mm)} mm`],
    ["thickness", `${fmt(f.thickness_mm[0])} to ${fmt(f.thickness_mm[1])} mm`],
    ["watertight", valid ? (bodies === 2 ? "yes, shell and post, each valid" : "yes, one valid body") : "NO"],
    ["volume", `${fmt(f.volume_mm3 / 1000, 1)} cm³`],
    ["foot", `${f.side}, ${fmt(f.foot.length_mm, 0)} × ${fmt(f.foot.width_mm, 0)} mm, ${f.foot.outline}`],
    ["mesh", `${f.faces} faces, ${f.resolution_mm} mm`],
  ];
  if (shell) {  // a shell is measured along its normals; its trim edge and post as built
    const nt = shell.normal_thickness, trim = shell.trim_edge;
    rows.splice(4, 1, ["device", `shell, ${shell.material}`],
      ["thickness", `${fmt(nt.p50_mm)} mm along the normal (min ${fmt(nt.min_mm)}, P5–P95 ${fmt(nt.p5_mm)}–${fmt(nt.p95_mm)}; set ${nt.prescribed_mm})`]);
    if (trim) rows.push(["trim edge", `${fmt(trim.behind_mtpj1_mm, 1)} / ${fmt(trim.behind_mtpj5_mm, 1)} mm behind the 1st / 5th head`]);
    rows.push(["post", post ? `${post.kind}: ${fmt(post.rearfoot_deg, 1)}°, motion ${fmt(post.motion_deg, 1)}°, flat to ` +
      `${fmt(post.flat_end_pct, 0)}% (${fmt(post.flat_end_mm, 0)} mm), bottom flat to ${fmt(post.bottom_plane_residual_mm, 3)} mm` : "none"]);
  }
  const faired = f.scan && f.scan.fairing;
  if (faired && faired.most_mm > 0) {  // where the scan's sole turned too sharply, the top bent at the limit
    rows.push(["faired", `creases ${fmt(faired.crease_before_deg, 1)}° → ${fmt(faired.crease_after_deg, 1)}° (limit 10°), ` +
      `${fmt(faired.changed_cm2)} cm² moved, ${fmt(faired.most_mm)} mm at most`]);
  }
  if (f.lattice) {  // a printed lattice: its zones' densities and its thinnest wall, measured on the mesh
    const lat = f.lattice;
    rows.push(["lattice", `${lat.type}, ${fmt(lat.cell_mm, 0)} mm cells, thinnest wall ${fmt(lat.thinnest_wall_mm)} mm`]);
    for (const [name, zone] of Object.entries(lat.zones)) {
      rows.push([`density ${name}`, zone.density_built_pct === null ? `no core (set ${zone.density_asked_pct}%)`
        : `${fmt(zone.density_built_pct, 1)}% (set ${zone.density_asked_pct}%)`]);
    }
  }
  const body = $("#figures tbody");
  body.replaceChildren(...rows.map(([k, v]) => {
    const tr = document.createElement("tr");
    tr.dataset.figure = k;
    tr.innerHTML = "<td></td><td></td>";
    tr.children[0].textContent = k;
    tr.children[1].textContent = v;
    if (k === "watertight") tr.children[1].className = valid ? "ok" : "bad";
    return tr;
  }));
  $("#warnings").replaceChildren(...f.warnings.map((w) => { const li = document.createElement("li"); li.textContent = w; return li; }));
}

function link(text, href, name) {
  const a = document.createElement("a");
  a.textContent = text; a.href = href; a.download = name || "";
  return a;
}

let current = null;  // the AbortController of the build in flight
let timer = null;
let changedAt = null;

async function rebuild() {
  if (current) current.abort();  // a newer change wins: the older request is dropped
  const controller = (current = new AbortController());
  const started = changedAt ?? performance.now();
  changedAt = null;
  state.pending++;
  status("building…");
  try {
    const sent = performance.now();
    const { figures, mesh } = await postView(formData(), controller.signal);
    const built = performance.now();
    clearErrors();
    await show([mesh]);
    (await viewer).showMap(figures.pressure_map);
    state.parts = { debounce: sent - started, build: built - sent, draw: performance.now() - built };
    showFigures(figures);
    const files = figures.files;  // made on their first download, the report with the whole QA
    $("#download-stl").href = files.stl;
    $("#download-3mf").href = files["3mf"];
    $("#download-report").href = files.report;
    $("#download-gcode").href = files.gcode;
    $("#download-gcode").dataset.mesh = files.stl;
    requestAnimationFrame(() => {
      state.lastMs = performance.now() - started;
      state.drawn++;
      status(`built in ${Math.round(state.lastMs)} ms`);
    });
  } catch (e) {
    if (e.name !== "AbortError") { clearErrors(); showError(e.message); }
  } finally {
    state.pending--;
    if (current === controller) current = null;
  }
}

function schedule(delay = 25) {
  changedAt = changedAt ?? performance.now();
  clearTimeout(timer);
  timer = setTimeout(rebuild, delay);
}

// "Download G-code" makes the program for the insert in view with the milling settings shown
async function downloadGcode(event) {
  event.preventDefault();
  const data = new FormData();
  data.append("mesh", event.currentTarget.dataset.mesh);
  for (const name of MILLING) data.append(name, $(`[name=${name}]`).value);
  status("making the G-code…");
  try {
    const answer = await post("/api/mill", data);
    clearErrors();
    const r = answer.report;
    $("#mill-figures").textContent = `${r.machining_time_min} min at the feeds, scallop ${r.scallop_mm} mm, ` +
      `${r.program_lines} lines`;
    const a = link("", answer.files.gcode, answer.files.gcode.split("/").pop());
    document.body.append(a);
    a.click();
    a.remove();
    status("G-code made");
  } catch (e) { showError(e.message); }
}

async function buildPair() {
  const data = formData();
  data.append("short_side", $("[name=short_side]").value);
  status("building a pair…");
  try {
    const answer = await post("/api/pair", data);
    clearErrors();
    const meshes = await Promise.all(["left", "right"].map((s) => fetchMesh(answer[s].files.stl)));
    await show(meshes);
    const box = $("#pair");
    box.replaceChildren();
    for (const side of ["left", "right"]) {
      const h = document.createElement("h3");
      h.textContent = `${side}: heel lift ${fmt(answer[side].report.qa.as_built.heel_lift_mm)} mm`;
      box.append(h, link(`Download ${side} STL`, answer[side].files.stl), link(`Download ${side} 3MF`, answer[side].files["3mf"]),
        link(`Download ${side} report`, answer[side].files.report));
    }
    state.drawn++;
    status("pair built");
  } catch (e) { showError(e.message); }
}

async function runBatch() {
  const file = $("input[name=batch]").files[0];
  if (!file) { showError("batch: choose a zip of the manifest and its outlines first"); return; }
  const data = new FormData();
  data.append("batch", file, file.name);
  status("running the batch…");
  try {
    const answer = await post("/api/batch", data);
    clearErrors();
    const box = $("#batch");
    const c = answer.counts;
    const p = document.createElement("p");
    p.textContent = `${c.built} built, ${c.skipped} skipped, ${c.failed} failed`;
    const failed = document.createElement("ul");
    for (const r of answer.summary.filter((r) => r.status === "failed")) {
      const li = document.createElement("li"); li.textContent = `${r.id}: ${r.error}`; failed.append(li);
    }
    box.replaceChildren(p, failed, link("Download batch results", answer.files.zip, "batch.zip"));
    status("batch done");
  } catch (e) { showError(e.message); }
}

// ---- start ---------------------------------------------------------------------------
async function start() {
  [schema, { profiles, default: defaults }] = await Promise.all([fetch("/api/schema").then((r) => r.json()), fetch("/api/profiles").then((r) => r.json())]);
  buildForm();
  const pick = $("#profile");
  for (const p of profiles) pick.append(new Option(p.name.replaceAll("_", " "), p.name));
  fill(defaults);
  pick.addEventListener("change", () => {
    const chosen = profiles.find((p) => p.name === pick.value);
    fill(chosen ? chosen.prescription : defaults);
    $("#profile-help").textContent = chosen ? chosen.description : "";
    schedule(0);
  });
  for (const el of document.querySelectorAll("#inputs [name]")) {
    el.addEventListener(el.type === "file" || el.tagName === "SELECT" || el.type === "checkbox" ? "change" : "input", () => schedule());
  }
  // an outline, a scan (with an outline beside it: the shoe's), or the built-in outline
  const outline = $("input[name=outline]"), scan = $("input[name=scan]"), side = $("[name=side]");
  outline.addEventListener("change", () => { if (side.value === "auto" && !scan.value) side.value = "right"; }, true);
  scan.addEventListener("change", () => { side.value = "auto"; }, true);
  $("#builtin").addEventListener("click", () => {
    outline.value = scan.value = "";
    if (side.value === "auto") side.value = "right";
    schedule(0);
  });
  $("#build-pair").addEventListener("click", buildPair);
  $("#download-gcode").addEventListener("click", downloadGcode);
  $("#run-batch").addEventListener("click", runBatch);
  state.ready = true;
  rebuild();
}

start().catch((e) => showError(`the page could not start: ${e.message}`));
