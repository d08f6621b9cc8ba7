/*
 * The ragd playground: a search form whose results stream in over
 * Server-Sent Events (one lane per source on a shared time axis, the fused
 * contexts, the answer token by token with its [n] citations linked to the
 * contexts), and a Documents tab over the documents API for clients allowed
 * to write.
 *
 * Everything the server or the user supplies reaches the page through
 * textContent or element attributes, never as markup.  The page's address
 * follows the form (?q=&k=&sources=&generate=&filter=), and such an address
 * runs its search on load.
 */
"use strict";

const KEY_STORE = "ragd-key";
const FINAL_JOB = ["done", "failed", "cancelled"];
const $ = (id) => document.getElementById(id);

const state = {
    key: sessionStorage.getItem(KEY_STORE) || "",
    sources: [],        /* from GET /sources */
    run: null,          /* the search being shown: {abort, t0, lanes, settled, timer} */
};

/* ------------------------------------------------------------ helpers -- */

function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
        if (k === "class")
            e.className = v;
        else if (k === "text")
            e.textContent = v;
        else if (k in e && typeof v !== "string")
            e[k] = v;
        else
            e.setAttribute(k, v);
    }
    for (const c of children)
        e.append(c);
    return e;
}

function headers(extra) {
    const h = Object.assign({}, extra || {});
    if (state.key)
        h.Authorization = "Bearer " + state.key;
    return h;
}

/* The message of an error reply, whatever its body. */
async function errorOf(res) {
    try {
        const body = await res.json();
        if (body && body.error)
            return body.error;
    } catch (e) { /* not JSON: fall through */ }
    return {code: "http_" + res.status, message: "HTTP " + res.status};
}

function setStatus(text) {
    $("status").textContent = text;
}

function fmtMs(ms) {
    return ms >= 1000 ? (ms / 1000).toFixed(2) + " s" : Math.round(ms) + " ms";
}

/* ------------------------------------------------------- session, key -- */

async function loadSession() {
    let res;
    try {
        res = await fetch("/session", {headers: headers()});
    } catch (e) {
        setStatus("ragd is not reachable: " + e.message);
        return false;
    }
    if (res.status === 401) {
        askKey("That key is not known to this server. Enter another.");
        return false;
    }
    if (!res.ok) {
        setStatus((await errorOf(res)).message);
        return false;
    }
    const s = await res.json();
    if (s.keys_required && s.scopes.length === 0) {
        askKey("This server needs an API key. It is kept for this tab only.");
        return false;
    }
    $("key-form").hidden = true;
    $("tab-docs").hidden = !s.scopes.includes("write");
    if (!s.scopes.includes("search")) {
        setStatus("This key may not search.");
        return false;
    }
    return true;
}

function askKey(why) {
    $("key-why").textContent = why;
    $("key-form").hidden = false;
    $("key").focus();
}

async function loadSources() {
    const box = $("sources");
    const res = await fetch("/sources", {headers: headers()});
    if (!res.ok) {
        $("sources-none").textContent = "Sources unavailable: " + (await errorOf(res)).message;
        return;
    }
    state.sources = (await res.json()).sources;
    box.replaceChildren(box.firstElementChild); /* the legend */
    for (const s of state.sources) {
        const id = "src-" + s.name;
        const note = !s.enabled ? " (disabled)" : s.breaker !== "closed" ? " (circuit " + s.breaker.replace("_", "-") + ")" : "";
        box.append(el("span", {class: "check"},
            el("input", {type: "checkbox", id: id, name: "sources", value: s.name, checked: s.enabled}),
            el("label", {for: id, text: s.name + " · " + s.type + note})));
    }
}

/* ------------------------------------------------------ form and link -- */

function selectedSources() {
    const boxes = [...document.querySelectorAll("#sources input[type=checkbox]")];
    const on = boxes.filter((b) => b.checked).map((b) => b.value);
    return on.length === boxes.length ? null : on;
}

/* The filter as an object, null when empty; throws a message when bad. */
function parseFilter() {
    const text = $("filter").value.trim();
    if (!text)
        return null;
    let f;
    try {
        f = JSON.parse(text);
    } catch (e) {
        throw "filter: not JSON: " + e.message;
    }
    if (f === null || typeof f !== "object" || Array.isArray(f))
        throw "filter: must be a JSON object, like {\"year\": 2015}";
    return f;
}

function showFilterError(msg) {
    const p = $("filter-error");
    p.textContent = msg || "";
    p.hidden = !msg;
    if (msg)
        $("filter").setAttribute("aria-invalid", "true");
    else
        $("filter").removeAttribute("aria-invalid");
}

/* The page's address for the form as it is now. */
function formUrl() {
    const p = new URLSearchParams();
    const q = $("q").value.trim();
    if (q)
        p.set("q", q);
    if ($("k").value && $("k").value !== "8")
        p.set("k", $("k").value);
    const src = selectedSources();
    if (src)
        p.set("sources", src.join(","));
    if (!$("generate").checked)
        p.set("generate", "false");
    if ($("filter").value.trim())
        p.set("filter", $("filter").value.trim());
    const s = p.toString();
    return location.pathname + (s ? "?" + s : "");
}

function followForm() {
    history.replaceState(null, "", formUrl());
}

/* Fill the form from the address; returns whether it names a query. */
function fillFromUrl() {
    const p = new URLSearchParams(location.search);
    if (p.has("q"))
        $("q").value = p.get("q");
    if (p.has("k"))
        $("k").value = p.get("k");
    if (p.has("generate"))
        $("generate").checked = !["false", "0", "no"].includes(p.get("generate"));
    if (p.has("filter"))
        $("filter").value = p.get("filter");
    if (p.has("sources")) {
        const want = p.get("sources").split(",").map((s) => s.trim());
        for (const b of document.querySelectorAll("#sources input[type=checkbox]"))
            b.checked = want.includes(b.value);
    }
    return $("q").value.trim() !== "";
}

/* ----------------------------------------------------------- the run -- */

function newLane(name) {
    const bar = el("span", {class: "bar"});
    const li = el("li", {class: "lane", "data-source": name, "data-state": "pending"},
        el("span", {class: "lane-name", text: name}),
        el("span", {class: "track"}, bar),
        el("span", {class: "lane-status", text: "waiting…"}));
    li.bar = bar;
    return li;
}

function startRun() {
    if (state.run)
        state.run.abort.abort();
    const names = selectedSources() || state.sources.map((s) => s.name);
    const run = {abort: new AbortController(), t0: performance.now(), lanes: new Map(),
                 settled: 0, scale: 1, answer: "", timer: 0, done: false};
    $("lanes").replaceChildren();
    for (const n of names) {
        const li = newLane(n);
        run.lanes.set(n, li);
        $("lanes").append(li);
    }
    $("contexts").replaceChildren();
    $("answer").replaceChildren();
    $("answer-note").textContent = "";
    $("answer").setAttribute("aria-busy", "true");
    run.timer = setInterval(() => drawAxis(run), 100);
    state.run = run;
    return run;
}

/* Lay every lane out on the axis from 0 to the longest time so far. */
function drawAxis(run) {
    const now = run.done ? 0 : performance.now() - run.t0;
    let scale = Math.max(now, 1);
    for (const li of run.lanes.values())
        if (li.latency !== undefined)
            scale = Math.max(scale, li.latency);
    for (const li of run.lanes.values()) {
        const t = li.latency !== undefined ? li.latency : now;
        li.bar.style.width = (100 * t / scale).toFixed(1) + "%";
        if (li.dataset.late && li.dataset.state === "pending")
            li.lastChild.textContent = "late: still waiting after " + fmtMs(now);
    }
    $("axis-max").textContent = fmtMs(scale);
}

/* A source still pending when every other one has answered is late: the
 * whole retrieval now waits for it alone. */
function markLate(run) {
    const pending = [...run.lanes.values()].filter((li) => li.dataset.state === "pending");
    if (pending.length === 1 && run.lanes.size > 1)
        pending[0].dataset.late = "true";
}

function onSource(run, ev) {
    let li = run.lanes.get(ev.name);
    if (!li) {
        li = newLane(ev.name);
        run.lanes.set(ev.name, li);
        $("lanes").append(li);
    }
    if (li.dataset.state !== "pending")
        return;
    run.settled += 1;
    li.dataset.state = ev.status;
    li.dataset.order = String(run.settled);
    li.latency = ev.latency_ms;
    let text = ev.status;
    if (ev.status !== "disabled" && ev.status !== "skipped")
        text += " · " + fmtMs(ev.latency_ms) + " · " + ev.hits + (ev.hits === 1 ? " hit" : " hits");
    if (ev.error)
        text += " · " + ev.error;
    if (ev.hedged)
        text += " · hedged";
    if (li.dataset.late)
        text += " · late";
    li.lastChild.textContent = text;
    markLate(run);
    drawAxis(run);
}

function contextItem(c) {
    const title = c.title || c.id;
    const head = el("div", {class: "ctx-head"},
        el("span", {class: "rank", text: "[" + c.rank + "]"}),
        /^https?:\/\//i.test(c.url || "")
            ? el("a", {class: "ctx-title", href: c.url, rel: "noopener noreferrer", target: "_blank", text: title})
            : el("span", {class: "ctx-title", text: title}),
        el("span", {class: "ctx-meta", text: c.source + " · score " + c.score.toFixed(4)}));
    return el("li", {id: "ctx-" + c.rank, class: "ctx", tabindex: "-1", "data-rank": String(c.rank)},
        head, el("p", {class: "ctx-text", text: c.text}));
}

function onContexts(run, ev) {
    for (const [name, s] of Object.entries(ev.sources))
        onSource(run, Object.assign({name: name}, s));
    $("contexts").replaceChildren(...ev.contexts.map(contextItem));
    if (ev.contexts.length === 0)
        $("contexts").append(el("li", {class: "muted", text: "No contexts found."}));
    setStatus("Retrieval took " + fmtMs(ev.timing_ms.retrieval) + (ev.partial ? "; some sources failed or were late." : "."));
}

/* The answer text with each [n] a link to context n. */
function renderAnswer(text) {
    const out = [];
    const re = /\[(\d+)\]/g;
    let last = 0, m;
    while ((m = re.exec(text)) !== null) {
        out.push(document.createTextNode(text.slice(last, m.index)));
        out.push(el("a", {href: "#ctx-" + m[1], class: "cite", "data-cite": m[1], text: m[0]}));
        last = re.lastIndex;
    }
    out.push(document.createTextNode(text.slice(last)));
    $("answer").replaceChildren(...out);
}

function onToken(run, ev) {
    run.answer += ev.text;
    renderAnswer(run.answer);
}

function onDone(run, ev) {
    run.done = true;
    clearInterval(run.timer);
    drawAxis(run);
    if (ev.answer !== null)
        renderAnswer(ev.answer);
    for (const n of ev.citations) {
        const li = $("ctx-" + n);
        if (li)
            li.classList.add("cited");
    }
    const g = ev.generation;
    $("answer-note").textContent = g ? g.status + " · " + g.generator + (g.model ? " (" + g.model + ")" : "") +
        " · " + fmtMs(g.latency_ms) : "No answer asked for.";
    $("answer").removeAttribute("aria-busy");
    $("status").textContent += " Total " + fmtMs(ev.timing_ms.total) + ".";
}

function onError(run, ev) {
    const msg = (ev.stage ? ev.stage + " " : "") + ev.code + ": " + ev.message;
    if (ev.stage === "generation")
        $("answer-note").textContent = msg;
    else
        setStatus(msg);
}

const HANDLERS = {source: onSource, contexts: onContexts, token: onToken, done: onDone, error: onError};

/* One SSE block ("event: X\ndata: {...}") to its handler. */
function dispatch(run, block) {
    let name = "message", data = "";
    for (const line of block.split("\n")) {
        if (line.startsWith("event:"))
            name = line.slice(6).trim();
        else if (line.startsWith("data:"))
            data += line.slice(5).replace(/^ /, "");
    }
    if (HANDLERS[name] && data)
        HANDLERS[name](run, JSON.parse(data));
}

async function search() {
    let filter;
    showFilterError("");
    try {
        filter = parseFilter();
    } catch (msg) {
        showFilterError(msg);
        $("filter").focus();
        return;
    }
    const body = {query: $("q").value.trim(), k: Number($("k").value) || 8,
                  generate: $("generate").checked, stream: true};
    const src = selectedSources();
    if (src)
        body.sources = src;
    if (filter)
        body.filter = filter;
    followForm();
    const run = startRun();
    setStatus("Searching…");
    let res;
    try {
        res = await fetch("/search", {method: "POST", body: JSON.stringify(body), signal: run.abort.signal,
                                      headers: headers({"Content-Type": "application/json", Accept: "text/event-stream"})});
    } catch (e) {
        if (e.name !== "AbortError")
            setStatus("ragd is not reachable: " + e.message);
        return endRun(run);
    }
    if (!res.ok) {
        const err = await errorOf(res);
        if (err.message.startsWith("filter"))
            showFilterError(err.message);
        else
            setStatus(err.message);
        if (res.status === 401)
            askKey("This server needs an API key. It is kept for this tab only.");
        return endRun(run);
    }
    await readStream(run, res.body);
    endRun(run);
}

async function readStream(run, body) {
    const reader = body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    try {
        for (;;) {
            const {value, done} = await reader.read();
            if (done)
                break;
            buf += dec.decode(value, {stream: true}).replace(/\r\n/g, "\n");
            let cut;
            while ((cut = buf.indexOf("\n\n")) >= 0) {
                dispatch(run, buf.slice(0, cut));
                buf = buf.slice(cut + 2);
            }
        }
    } catch (e) {
        if (e.name !== "AbortError")
            setStatus("The stream broke off: " + e.message);
    }
}

function endRun(run) {
    clearInterval(run.timer);
    run.done = true;
    if (state.run === run) /* not a run a newer search aborted */
        $("answer").removeAttribute("aria-busy");
}

/* A citation scrolls to its context and marks it. */
function onCite(e) {
    const a = e.target.closest("a.cite");
    if (!a)
        return;
    e.preventDefault();
    const li = $("ctx-" + a.dataset.cite);
    if (!li)
        return;
    for (const old of document.querySelectorAll(".ctx.highlight"))
        old.classList.remove("highlight");
    li.classList.add("highlight");
    li.scrollIntoView({behavior: "smooth", block: "center"});
    li.focus({preventScroll: true});
}

/* ---------------------------------------------------------- documents -- */

function docsStatus(text) {
    $("docs-status").textContent = text;
}

/* POST a body to /documents and follow its job. */
async function upload(body, type, what) {
    const res = await fetch("/documents", {method: "POST", body: body, headers: headers({"Content-Type": type})});
    if (res.status !== 202) {
        docsStatus(what + ": " + (await errorOf(res)).message);
        return null;
    }
    const job = await res.json();
    const bar = el("progress", {max: "1", value: "0", "aria-label": "job " + job.job});
    const label = el("span", {text: "job " + job.job + " · " + what + " · " + job.status});
    const li = el("li", {class: "job", "data-job": job.job, "data-status": job.status}, label, bar);
    $("jobs").prepend(li);
    return followJob(job.job, li, label, bar, what);
}

async function followJob(id, li, label, bar, what) {
    for (;;) {
        const res = await fetch("/jobs/" + encodeURIComponent(id), {headers: headers()});
        if (!res.ok) {
            label.textContent = "job " + id + " · " + (await errorOf(res)).message;
            return null;
        }
        const j = await res.json();
        const d = j.documents;
        bar.max = Math.max(d.total, 1);
        bar.value = d.done + d.failed;
        li.dataset.status = j.status;
        let text = "job " + id + " · " + what + " · " + j.status + " · " + d.done + "/" + d.total + " documents";
        if (d.failed)
            text += ", " + d.failed + " refused";
        if (j.errors.length)
            text += " · " + j.errors[0].message;
        label.textContent = text;
        if (FINAL_JOB.includes(j.status))
            return j;
        await new Promise((r) => setTimeout(r, 250));
    }
}

function noteAdded(id) {
    const del = el("button", {type: "button", text: "Delete"});
    del.setAttribute("aria-label", "Delete " + id);
    const li = el("li", {"data-id": id}, el("span", {text: id}), del);
    del.addEventListener("click", () => deleteDoc(id));
    $("added").append(li);
}

async function deleteDoc(id) {
    const res = await fetch("/documents/" + encodeURIComponent(id), {method: "DELETE", headers: headers()});
    if (!res.ok) {
        docsStatus("Delete " + id + ": " + (await errorOf(res)).message);
        return;
    }
    docsStatus("Deleted " + id + ".");
    for (const li of $("added").children)
        if (li.dataset.id === id)
            li.remove();
}

async function addFiles(files) {
    const docs = [];
    for (const f of files) {
        if (/\.jsonl$/i.test(f.name)) {
            const j = await upload(await f.text(), "application/x-ndjson", f.name);
            if (j && j.status === "done")
                docsStatus("Added the documents of " + f.name + ".");
        } else if (/\.(txt|md)$/i.test(f.name)) {
            docs.push({id: f.name, title: f.name, text: await f.text()});
        } else {
            docsStatus(f.name + ": only .txt, .md and .jsonl files are taken");
        }
    }
    if (docs.length === 0)
        return;
    const j = await upload(JSON.stringify({documents: docs}), "application/json", docs.length + " file(s)");
    if (j && j.status === "done")
        docs.forEach((d) => noteAdded(d.id));
}

async function pasteDoc(e) {
    e.preventDefault();
    const doc = {id: $("doc-id").value.trim(), title: $("doc-title").value, text: $("doc-text").value};
    if (!doc.id || !doc.text.trim()) {
        docsStatus("A document needs an id and some text.");
        return;
    }
    const j = await upload(JSON.stringify({documents: [doc]}), "application/json", doc.id);
    if (j && j.status === "done")
        noteAdded(doc.id);
}

/* ---------------------------------------------------------------- tabs -- */

function showTab(tab) {
    for (const t of document.querySelectorAll("[role=tab]")) {
        const on = t === tab;
        t.setAttribute("aria-selected", String(on));
        t.tabIndex = on ? 0 : -1;
        $(t.getAttribute("aria-controls")).hidden = !on;
    }
    tab.focus();
}

function onTabKey(e) {
    const tabs = [...document.querySelectorAll("[role=tab]")].filter((t) => !t.hidden);
    const i = tabs.indexOf(document.activeElement);
    if (i < 0 || (e.key !== "ArrowRight" && e.key !== "ArrowLeft"))
        return;
    e.preventDefault();
    showTab(tabs[(i + (e.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length]);
}

/* --------------------------------------------------------------- start -- */

async function start() {
    if (!(await loadSession()))
        return;
    await loadSources();
    if (fillFromUrl())
        search();
    else
        $("q").focus();
}

function wire() {
    $("search-form").addEventListener("submit", (e) => { e.preventDefault(); search(); });
    $("search-form").addEventListener("input", followForm);
    $("search-form").addEventListener("change", followForm);
    for (const b of document.querySelectorAll("button.example"))
        b.addEventListener("click", () => { $("q").value = b.textContent; search(); });
    $("answer").addEventListener("click", onCite);
    $("key-form").addEventListener("submit", (e) => {
        e.preventDefault();
        state.key = $("key").value.trim();
        sessionStorage.setItem(KEY_STORE, state.key);
        $("key").value = "";
        start();
    });
    for (const t of document.querySelectorAll("[role=tab]"))
        t.addEventListener("click", () => showTab(t));
    $("tabs").addEventListener("keydown", onTabKey);
    $("files").addEventListener("change", () => addFiles([...$("files").files]));
    const drop = $("drop");
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
        e.preventDefault();
        drop.classList.remove("over");
        addFiles([...e.dataTransfer.files]);
    });
    $("paste-form").addEventListener("submit", pasteDoc);
    $("delete-form").addEventListener("submit", (e) => { e.preventDefault(); deleteDoc($("del-id").value.trim()); });
}

wire();
start();
