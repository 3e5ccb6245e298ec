// Subscriptions and jobs: what is ingested every night, what ran, what failed and why; an ingest
// form with live progress. Reading is public (unless the server says otherwise); changes need the key.
import { html } from "./html.js";
import { useEffect, useState } from "preact/hooks";
import { useText } from "./i18n.js";
import { ApiError, apiKey, get, send, setApiKey } from "./api.js";
import { useFetch, Status } from "./fetching.js";
import { episodePath } from "./format.js";

const POLL_MS = 1500;

function when(iso, lang) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(lang === "es" ? "es-AR" : "en-US",
    { dateStyle: "medium", timeStyle: "short" });
}

/** Run a write: [ok, result or message, needsKey]. */
async function write(method, path, body, t) {
  try {
    return [true, await send(method, path, body), false];
  } catch (error) {
    const needsKey = error instanceof ApiError && error.status === 401;
    const message = needsKey ? t.apiKeyNeeded
      : error instanceof ApiError && error.status ? error.message : t.errorServer;
    return [false, message, needsKey];
  }
}

function KeyField({ onSaved }) {
  const [t] = useText();
  const [key, setKey] = useState(apiKey());
  const save = (event) => {
    event.preventDefault();
    setApiKey(key.trim());
    onSaved();
  };
  return html`
    <form class="inline-form key-form" onSubmit=${save}>
      <div class="field"><label for="api-key">${t.apiKey}</label>
        <input id="api-key" type="password" autocomplete="off" value=${key}
          onInput=${(e) => setKey(e.target.value)} /></div>
      <button type="submit" class="primary">${t.save}</button>
    </form>`;
}

export function SubscriptionsPage() {
  const [t, lang] = useText();
  const subs = useFetch("/api/subscriptions");
  const [message, setMessage] = useState("");
  const [needsKey, setNeedsKey] = useState(false);
  const act = async (method, path, body) => {
    const [ok, result, keyMissing] = await write(method, path, body, t);
    setMessage(ok ? "" : result);
    setNeedsKey(keyMissing);
    subs.reload();
    return ok ? result : null;
  };
  return html`
    <section class="subscriptions">
      <h1>${t.subscriptions}</h1>
      <${IngestForm} act=${act} />
      <${SubscribeForm} act=${act} />
      ${message && html`<p class="error" role="alert">${message}</p>`}
      ${needsKey && html`<${KeyField} onSaved=${() => { setNeedsKey(false); setMessage(t.keySaved); }} />`}
      <${Status} error=${subs.error} loading=${!subs.data && !subs.error} onRetry=${subs.reload} />
      ${subs.data && subs.data.length === 0 && html`<p class="empty">${t.noSubscriptions}</p>`}
      ${subs.data && html`<ul class="cards">${subs.data.map((s) => html`
        <li key=${s.id} class="card subscription">
          <h2>${s.source}</h2>
          <p class="meta">${s.cron} (${s.timezone}) · <span class=${`state state-${s.state}`}>${t[s.state] || s.state}</span>
            ${s.paused_until && html` · ${t.pausedUntil} ${when(s.paused_until, lang)}: ${s.pause_reason || ""}`}</p>
          <p class="meta">${t.nextRun}: ${when(s.next_due_at, lang)}</p>
          ${s.last_run && html`<${RunSummary} run=${s.last_run} act=${act} />`}
          <div class="actions">
            ${s.state === "paused"
              ? html`<button type="button" onClick=${() => act("POST", `/api/subscriptions/${s.id}/resume`)}>${t.resume}</button>`
              : html`<button type="button" onClick=${() => act("POST", `/api/subscriptions/${s.id}/pause`)}>${t.pause}</button>`}
            <button type="button" onClick=${() => act("POST", `/api/subscriptions/${s.id}/run`)}>${t.runNow}</button>
            <button type="button" onClick=${() => act("DELETE", `/api/subscriptions/${s.id}`)}>${t.unsubscribe}</button>
          </div>
        </li>`)}</ul>`}
    </section>`;
}

function RunSummary({ run, act }) {
  const [t, lang] = useText();
  const kinds = Object.entries(run.errors_by_kind || {});
  return html`
    <details class="run">
      <summary>${t.lastRun}: ${when(run.started_at || run.created_at, lang)}${" · "}<span
        class=${`state state-${run.state}`}>${run.state}</span>${" · "}${run.found} ${t.found}, ${run.ingested} ${t.ingested}, ${run.failed} ${t.failedCount}
        ${kinds.length > 0 && html` · ${kinds.map(([k, n]) => `${k} ×${n}`).join(", ")}`}</summary>
      ${run.note && html`<p class="meta">${run.note}</p>`}
      <ul class="outcomes">${run.episodes.map((e) => html`
        <li key=${e.episode_id}><a href=${episodePath(e.episode_id)} data-nav>${e.title}</a>
          · <span class=${`state state-${e.state}`}>${e.state}</span>${e.error ? ` · ${e.kind || ""} ${e.error}` : ""}</li>`)}
      </ul>
      ${run.errors.filter((e) => !e.episode_id).map((e) => html`<p class="error">${e.kind}: ${e.message}</p>`)}
      ${["failed", "partial"].includes(run.state) && html`
        <button type="button" onClick=${() => act("POST", `/api/runs/${run.id}/retry`)}>${t.retry}</button>`}
    </details>`;
}

function SubscribeForm({ act }) {
  const [t] = useText();
  const [source, setSource] = useState("");
  const [cron, setCron] = useState("");
  const submit = async (event) => {
    event.preventDefault();
    const done = await act("POST", "/api/subscriptions", { source: source.trim(), cron: cron.trim() || null });
    if (done) { setSource(""); setCron(""); }
  };
  return html`
    <form class="inline-form" onSubmit=${submit}>
      <div class="field grow"><label for="sub-source">${t.subscribeTo}</label>
        <input id="sub-source" required value=${source} placeholder="https://…"
          onInput=${(e) => setSource(e.target.value)} /></div>
      <div class="field"><label for="sub-cron">${t.schedule}</label>
        <input id="sub-cron" value=${cron} placeholder="0 3 * * *" onInput=${(e) => setCron(e.target.value)} /></div>
      <button type="submit" class="primary">${t.subscribe}</button>
    </form>`;
}

function IngestForm({ act }) {
  const [t] = useText();
  const [url, setUrl] = useState("");
  const [jobId, setJobId] = useState(null);
  const submit = async (event) => {
    event.preventDefault();
    const accepted = await act("POST", "/api/ingest", { url: url.trim() });
    if (accepted) { setJobId(accepted.id); setUrl(""); }
  };
  return html`
    <form class="inline-form" onSubmit=${submit}>
      <div class="field grow"><label for="ingest-url">${t.ingestNow}</label>
        <input id="ingest-url" required value=${url} placeholder="https://…" onInput=${(e) => setUrl(e.target.value)} /></div>
      <button type="submit" class="primary">${t.ingest}</button>
    </form>
    ${jobId && html`<${JobProgress} id=${jobId} act=${act} />`}`;
}

function JobProgress({ id, act }) {
  const [t] = useText();
  const [job, setJob] = useState(null);
  const [failure, setFailure] = useState("");
  useEffect(() => {
    let live = true;
    let timer = null;
    const poll = async () => {
      try {
        const next = await get(`/api/jobs/${id}`);
        if (!live) return;
        setJob(next);
        if (["queued", "running"].includes(next.state)) timer = setTimeout(poll, POLL_MS);
      } catch (error) {
        // Unreachable or a server error: try again; a 401 or 404 will not get better.
        const transient = !(error instanceof ApiError) || error.status === 0 || error.status >= 500;
        if (live && transient) timer = setTimeout(poll, POLL_MS * 2);
        else if (live) setFailure(error.message || t.errorServer);
      }
    };
    poll();
    return () => { live = false; clearTimeout(timer); };
  }, [id]);
  if (failure) return html`<p class="error" role="alert">#${id}: ${failure}</p>`;
  if (!job) return html`<p class="loading">${t.loading}</p>`;
  const p = job.progress;
  const percent = p.percent == null ? undefined : Math.round(p.percent);
  return html`
    <div class="job" role="status" aria-live="polite">
      <p><strong>#${job.id}</strong> ${job.request.source} · <span class=${`state state-${job.state}`}>${job.state}</span>
        ${p.stage && ` · ${p.stage}`}${p.episode_title ? ` · ${p.episode_title}` : ""}
        ${p.total ? ` (${Math.min(p.index + 1, p.total)}/${p.total})` : ""}</p>
      <progress max="100" value=${percent}></progress>
      ${job.error && html`<p class="error">${job.error}</p>`}
      ${["queued", "running"].includes(job.state) && html`
        <button type="button" onClick=${() => act("POST", `/api/jobs/${job.id}/cancel`)}>${t.cancel}</button>`}
    </div>`;
}
