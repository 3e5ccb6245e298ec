// Topics: the knowledge graph's entities, and an entity's relations with the moments behind them.
import { html } from "./html.js";
import { useState } from "preact/hooks";
import { useText } from "./i18n.js";
import { query } from "./api.js";
import { useFetch, Status } from "./fetching.js";
import { MomentList } from "./moments.js";

export function TopicsPage() {
  const [t] = useText();
  const [filter, setFilter] = useState("");
  const { data, error, reload } = useFetch(`/api/topics${query({ q: filter.trim(), limit: 100 })}`);
  return html`
    <section class="topics">
      <h1>${t.topics}</h1>
      <label class="visually-hidden" for="topic-filter">${t.filterTopics}</label>
      <input id="topic-filter" type="search" placeholder=${t.filterTopics} value=${filter}
        onInput=${(e) => setFilter(e.target.value)} />
      <${Status} error=${error} loading=${!data && !error} onRetry=${reload} />
      ${data && html`<ul class="tag-cloud">${data.map((x) => html`
        <li key=${x.key}><a class=${`tag type-${x.type}`} href=${`/topics/${encodeURIComponent(x.key)}`}
          data-nav>${x.name} <span class="count">${x.mentions}</span></a></li>`)}</ul>`}
    </section>`;
}

export function TopicPage({ topicKey }) {
  const [t] = useText();
  const { data, error, reload } = useFetch(`/api/topics/${encodeURIComponent(topicKey)}`);
  if (!data) return html`<${Status} error=${error} loading=${!error} onRetry=${reload} />`;
  return html`
    <section class="topic">
      <h1>${data.name} <span class="type">${data.type}</span></h1>
      <p class="meta">${data.mentions} ${t.mentions}${data.aliases?.length ? ` · ${data.aliases.join(", ")}` : ""}</p>
      <${MomentList} moments=${data.moments} />
      ${data.related.length > 0 && html`
        <h2>${t.related}</h2>
        <${Star} data=${data} />
        <ul class="relations">${data.related.map((r) => html`
          <li key=${`${r.key}-${r.relation}`} class="relation">
            <h3><span class="relation-type">${relationLabel(r, t)}</span>
              <a href=${`/topics/${encodeURIComponent(r.key)}`} data-nav>${r.name}</a>
              <span class="type">${r.type}</span></h3>
            <${MomentList} moments=${r.moments} />
          </li>`)}</ul>`}
      ${data.truncated && html`<p class="note">${t.truncated}</p>`}
    </section>`;
}

function relationLabel(r, t) {
  const type = r.relation === "co_occurs" ? t.coOccurs : r.relation.replaceAll("_", " ");
  return r.direction === "in" ? `← ${type}` : `${type} →`;
}

/** The entity and its neighbours on a circle: depth 1, at most MAX_NODES, never a hairball. */
const MAX_NODES = 25;
function Star({ data }) {
  const nodes = data.related.slice(0, MAX_NODES);
  const size = 360;
  const c = size / 2;
  const radius = c - 60;
  const heaviest = Math.max(...nodes.map((r) => r.weight), 1);
  const at = (i) => {
    const angle = (2 * Math.PI * i) / nodes.length - Math.PI / 2;
    return [c + radius * Math.cos(angle), c + radius * Math.sin(angle)];
  };
  return html`
    <svg class="star" viewBox=${`0 0 ${size} ${size}`} role="img" aria-label=${data.name}>
      ${nodes.map((r, i) => {
        const [x, y] = at(i);
        return html`<line x1=${c} y1=${c} x2=${x} y2=${y} stroke-width=${1 + (3 * r.weight) / heaviest} />`;
      })}
      ${nodes.map((r, i) => {
        const [x, y] = at(i);
        return html`<a href=${`/topics/${encodeURIComponent(r.key)}`} data-nav>
          <circle cx=${x} cy=${y} r="6" /><text x=${x} y=${y - 10} text-anchor="middle">${r.name}</text></a>`;
      })}
      <circle class="centre" cx=${c} cy=${c} r="10" />
      <text class="centre" x=${c} y=${c + 26} text-anchor="middle">${data.name}</text>
    </svg>`;
}
