// People: everyone who speaks, and a person's timeline of what they said, by publication date.
import { html } from "./html.js";
import { useText } from "./i18n.js";
import { query } from "./api.js";
import { episodePath, shortDate } from "./format.js";
import { useFetch, Status } from "./fetching.js";
import { MomentList } from "./moments.js";
import { navigate } from "./router.js";

export function PeoplePage() {
  const [t, lang] = useText();
  const { data, error, reload } = useFetch("/api/people", { all: true });
  return html`
    <section class="people">
      <h1>${t.people}</h1>
      <${Status} error=${error} loading=${!data && !error} onRetry=${reload} />
      ${data && data.length === 0 && html`<p class="empty">${t.noPeople}</p>`}
      ${data && html`<ul class="cards">${data.map((p) => html`
        <li key=${p.name} class="card">
          <h2><a href=${`/people/${encodeURIComponent(p.name)}`} data-nav>${p.name}</a></h2>
          <p class="meta">${p.episodes} ${t.episodes.toLowerCase()} · ${p.moments} ${t.moments}
            ${p.first_published && html` · ${shortDate(p.first_published, lang)}`}
            ${p.last_published && p.last_published !== p.first_published
              ? html` – ${shortDate(p.last_published, lang)}` : ""}</p>
        </li>`)}</ul>`}
    </section>`;
}

export function PersonPage({ name }) {
  const [t, lang] = useText();
  const topic = new URLSearchParams(location.search).get("topic") || "";
  const path = `/api/people/${encodeURIComponent(name)}${query({ topic })}`;
  const { data, error, reload } = useFetch(path);
  const pick = (key) => navigate(`/people/${encodeURIComponent(name)}${query({ topic: key })}`);
  return html`
    <section class="person">
      <h1>${name}</h1>
      <p class="lead">${t.timeline}</p>
      <${Status} error=${error} loading=${!data && !error} onRetry=${reload} />
      ${data && html`
        <div class="topic-filter" role="group" aria-label=${t.topics}>
          <button type="button" class=${topic ? "" : "selected"} aria-pressed=${!topic}
            onClick=${() => pick("")}>${t.allTopics}</button>
          ${data.topics.map((x) => html`
            <button type="button" key=${x.key} class=${topic === x.key ? "selected" : ""}
              aria-pressed=${topic === x.key} onClick=${() => pick(x.key)}>${x.name} (${x.count})</button>`)}
        </div>
        <ol class="timeline">${data.episodes.map((e) => html`
          <li key=${e.episode_id} class="timeline-episode">
            <h2><time datetime=${e.published || ""}>${shortDate(e.published, lang)}</time>
              <a href=${episodePath(e.episode_id)} data-nav>${e.title}</a></h2>
            <${MomentList} moments=${e.moments} showEpisode=${false} url=${e.url} />
          </li>`)}</ol>
        ${data.truncated && html`<p class="note">${t.truncated}</p>`}`}
    </section>`;
}
