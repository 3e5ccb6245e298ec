// The episode list, and an episode's page: the transcript by speaker turn beside the player.
import { html } from "./html.js";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { useText } from "./i18n.js";
import { ApiError, apiKey, get, put, setApiKey } from "./api.js";
import { clock, duration, episodePath, shortDate } from "./format.js";
import { momentFrom } from "./moments.js";
import { playMoment, playback } from "./player.js";
import { useObservable } from "./store.js";
import { useFetch, Status } from "./fetching.js";

export function EpisodesPage() {
  const [t, lang] = useText();
  const { data, error, reload } = useFetch("/api/episodes", { all: true });
  return html`
    <section class="episodes">
      <h1>${t.episodes}</h1>
      <${Status} error=${error} loading=${!data && !error} onRetry=${reload} />
      ${data && data.length === 0 && html`<p class="empty">${t.episodesEmpty}</p>`}
      ${data && html`<ul class="episode-list">${data.map((e) => html`
        <li key=${e.id} class="episode-card">
          <h2><a href=${episodePath(e.id)} data-nav>${e.title}</a></h2>
          <p class="meta">
            <span class=${`state state-${e.state}`}>${e.state}</span>
            ${e.published && html` · ${shortDate(e.published, lang)}`}
            ${e.duration != null && html` · ${duration(e.duration)}`}
            ${e.language && html` · ${e.language}`}
          </p>
          ${e.speakers.length > 0 && html`<p class="meta">${t.speakers}: ${e.speakers.join(", ")}</p>`}
          ${e.error && html`<p class="error">${e.error}</p>`}
        </li>`)}</ul>`}
    </section>`;
}

/** Enter or Space on a transcript line plays it (a span, so sentences flow as one paragraph). */
function activate(event, play) {
  if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    play();
  }
}

/** Consecutive sentences of one speaker make a turn. */
function turns(lines) {
  const out = [];
  lines.forEach((line, index) => {
    const last = out[out.length - 1];
    if (last && last.speaker === line.speaker) last.lines.push({ ...line, index });
    else out.push({ speaker: line.speaker, start: line.start, lines: [{ ...line, index }] });
  });
  return out;
}

function activeIndex(lines, time) {
  let found = -1;
  for (let i = 0; i < lines.length && lines[i].start <= time + 0.05; i += 1) found = i;
  return found;
}

export function EpisodePage({ id }) {
  const [t, lang] = useText();
  const { data: episode, error, reload } = useFetch(`/api/episodes/${encodeURIComponent(id)}`);
  const lines = episode ? (episode.sentences.length ? episode.sentences : episode.segments) : [];
  const grouped = useMemo(() => turns(lines), [episode]);
  const colours = useMemo(() => new Map((episode?.speaker_details || []).map((s, i) => [s.name, i % 8])), [episode]);
  const heard = useObservable(playback);
  const active = heard.episodeId === episode?.id ? activeIndex(lines, heard.time) : -1;
  const moment = (line) => momentFrom({ ...line, episode_id: episode.id, url: episode.url,
    title: episode.title, published: episode.published });
  useEffect(() => {
    const at = new URLSearchParams(location.search).get("t");
    if (episode && at !== null && !Number.isNaN(Number(at))) {
      const start = Math.max(0, Number(at));
      const line = lines[Math.max(0, activeIndex(lines, start))] || {};
      // Not the line's own link: that one opens at the line's second, not at t.
      playMoment({ ...moment(line), start, link: undefined }, { lead: 0 });
    }
  }, [episode?.id]);
  if (!episode) return html`<${Status} error=${error} loading=${!error} onRetry=${reload} />`;
  return html`
    <section class="episode">
      <h1>${episode.title}</h1>
      <p class="meta"><span class=${`state state-${episode.state}`}>${episode.state}</span>
        ${episode.published && html` · ${shortDate(episode.published, lang)}`}
        ${episode.duration != null && html` · ${duration(episode.duration)}`}
        ${episode.language && html` · ${episode.language}`}</p>
      ${episode.error && html`<p class="error">${episode.error}</p>`}
      <${Speakers} episode=${episode} colours=${colours} onRenamed=${reload} />
      <h2>${t.transcript}</h2>
      <div class="transcript">${grouped.map((turn) => html`
        <div class=${`turn speaker-${colours.get(turn.speaker) ?? 7}${turn.lines.some((l) => l.index === active) ? " current" : ""}`}
          key=${turn.start}>
          <p class="turn-head"><span class="turn-speaker">${turn.speaker || "?"}</span>
            <span class="turn-time">${clock(turn.start)}</span></p>
          <p class="turn-text">${turn.lines.map((line) => html`
            <span role="button" tabindex="0" class=${`line${line.index === active ? " active" : ""}`}
              data-start=${line.start} aria-current=${line.index === active ? "true" : undefined}
              title=${`${t.playFrom} ${clock(line.start)}`} onClick=${() => playMoment(moment(line))}
              onKeyDown=${(e) => activate(e, () => playMoment(moment(line)))}>${line.text}</span>${" "}`)}</p>
        </div>`)}</div>
    </section>`;
}

function Speakers({ episode, colours, onRenamed }) {
  const [t] = useText();
  const [editing, setEditing] = useState(null);
  return html`
    <ul class="speakers">${episode.speaker_details.map((s) => html`
      <li key=${s.label} class=${`speaker speaker-${colours.get(s.name) ?? 7}`}>
        <span class="dot" aria-hidden="true"></span>
        <a href=${`/people/${encodeURIComponent(s.name)}`} data-nav class="speaker-name">${s.name}</a>
        ${s.name !== s.label && html`<span class="label">${s.label}</span>`}
        ${!s.confirmed && s.guess && s.guess !== s.name && html`
          <span class="suggestion">${t.suggestion}: ${s.guess}</span>`}
        <span class="evidence" role="tooltip">${evidence(s, t)}</span>
        ${editing === s.label
          ? html`<${RenameForm} episode=${episode} speaker=${s} onDone=${(changed) => {
              setEditing(null);
              if (changed) onRenamed();
            }} />`
          : html`<button type="button" class="small" onClick=${() => setEditing(s.label)}>${t.rename}</button>`}
      </li>`)}</ul>`;
}

function evidence(s, t) {
  if (s.confirmed) return t.confirmed;
  if (!s.evidence) return "";
  const at = s.evidence.start != null ? ` (${clock(s.evidence.start)})` : "";
  const sure = s.confidence != null ? `, ${t.confidence} ${s.confidence.toFixed(2)}` : "";
  return `${t.namedFrom}: “${s.evidence.text}”${at}${sure}`;
}

function RenameForm({ episode, speaker, onDone }) {
  const [t] = useText();
  const [name, setName] = useState(speaker.name === speaker.label ? "" : speaker.name);
  const [key, setKey] = useState(apiKey());
  const [needKey, setNeedKey] = useState(false);
  const [error, setError] = useState("");
  const input = useRef(null);
  useEffect(() => input.current?.focus(), []);
  const submit = async (event) => {
    event.preventDefault();
    if (needKey) setApiKey(key);
    try {
      const path = `/api/episodes/${encodeURIComponent(episode.id)}/speakers/${encodeURIComponent(speaker.label)}`;
      await put(path, { name: name.trim() });
      onDone(true);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        setNeedKey(true);
        setError(t.apiKeyNeeded);
      } else setError(e instanceof ApiError && e.status ? e.message : t.errorServer);
    }
  };
  return html`
    <form class="rename" onSubmit=${submit}>
      <label>${t.newName}<input ref=${input} value=${name} maxlength="100" required
        onInput=${(e) => setName(e.target.value)} /></label>
      ${needKey && html`<label>${t.apiKey}<input type="password" value=${key} autocomplete="off"
        onInput=${(e) => setKey(e.target.value)} /></label>`}
      <button type="submit" class="primary small">${t.save}</button>
      <button type="button" class="small" onClick=${() => onDone(false)}>${t.cancel}</button>
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </form>`;
}
