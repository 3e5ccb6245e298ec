// Search: moments without the LLM, with filters; each result playable in the page.
import { html } from "./html.js";
import { useEffect, useState } from "preact/hooks";
import { useText } from "./i18n.js";
import { ApiError, get, getAll, query } from "./api.js";
import { clock, episodePath, shortDate } from "./format.js";
import { momentFrom } from "./moments.js";
import { playMoment } from "./player.js";
import { navigate } from "./router.js";

const FIELDS = ["q", "episode", "speaker", "language", "date_from", "date_to"];

function fromUrl() {
  const params = new URLSearchParams(location.search);
  return Object.fromEntries(FIELDS.map((f) => [f, params.get(f) || ""]));
}

export function SearchPage() {
  const [t] = useText();
  const [form, setForm] = useState(fromUrl);
  const [state, setState] = useState({ results: null, error: null, loading: false });
  const [episodes, setEpisodes] = useState([]);
  useEffect(() => { getAll("/api/episodes").then(setEpisodes).catch(() => setEpisodes([])); }, []);
  useEffect(() => {
    const current = fromUrl();
    if (!current.q) return;
    setState({ results: null, error: null, loading: true });
    get(`/api/search${query({ ...current, k: 20 })}`)
      .then((r) => setState({ results: r.results, error: null, loading: false }))
      .catch((e) => setState({ results: null, error: e, loading: false }));
  }, [location.search]);

  const submit = (event) => {
    event.preventDefault();
    navigate(`/search${query(form)}`);
  };
  const field = (name) => ({ value: form[name], onInput: (e) => setForm({ ...form, [name]: e.target.value }) });
  const speakers = [...new Set(episodes.flatMap((e) => e.speakers))].sort();
  return html`
    <section class="search">
      <h1>${t.search}</h1>
      <form class="search-form" onSubmit=${submit} role="search">
        <div class="field grow"><label for="f-q">${t.query}</label>
          <input id="f-q" type="search" name="q" required ...${field("q")} /></div>
        <div class="field"><label for="f-episode">${t.episodes}</label>
          <select id="f-episode" name="episode" ...${field("episode")}>
            <option value="">${t.allEpisodes}</option>
            ${episodes.map((e) => html`<option value=${e.id}>${e.title}</option>`)}
          </select></div>
        <div class="field"><label for="f-speaker">${t.speaker}</label>
          <input id="f-speaker" name="speaker" list="speaker-names" ...${field("speaker")} />
          <datalist id="speaker-names">${speakers.map((s) => html`<option value=${s} />`)}</datalist></div>
        <div class="field"><label for="f-language">${t.language}</label>
          <select id="f-language" name="language" ...${field("language")}>
            <option value="">${t.anyLanguage}</option><option value="es">Español</option>
            <option value="en">English</option></select></div>
        <div class="field"><label for="f-from">${t.from}</label>
          <input id="f-from" type="date" name="date_from" ...${field("date_from")} /></div>
        <div class="field"><label for="f-to">${t.to}</label>
          <input id="f-to" type="date" name="date_to" ...${field("date_to")} /></div>
        <button type="submit" class="primary">${t.search}</button>
      </form>
      ${state.loading && html`<p>${t.loading}</p>`}
      ${state.error && html`<p class="error" role="alert">${state.error instanceof ApiError && state.error.status
        ? state.error.message : t.errorServer}</p>`}
      ${state.results && html`<${Results} results=${state.results} />`}
    </section>`;
}

function Results({ results }) {
  const [t, lang] = useText();
  if (!results.length) return html`<p class="empty">${t.noResults}</p>`;
  return html`
    <p class="count">${results.length} ${t.results}</p>
    <ol class="results">${results.map((r) => html`
      <li class="result" key=${`${r.episode_id}-${r.start}`}>
        <button type="button" class="play" data-start=${r.start} data-episode=${r.episode_id}
          aria-label=${`${t.play} ${r.title} ${clock(r.start)}`}
          onClick=${() => playMoment(momentFrom(r))}>▶</button>
        <div>
          <p class="result-meta"><strong>${r.speaker || ""}</strong>${" · "}<a href=${episodePath(r.episode_id, r.start)} data-nav>${r.title}</a>
            ${r.published ? ` · ${shortDate(r.published, lang)}` : ""} · ${clock(r.start)}</p>
          <p class="result-text">${r.text}</p>
          <p class="signals">${t.foundBy}: ${["vector", "keyword", "graph"]
            .filter((s) => r.signals[s] != null)
            .map((s) => html`<span class=${`signal ${s}`}>${t[s]} #${r.signals[s]}</span> `)}</p>
        </div>
      </li>`)}
    </ol>`;
}
