// The home page: ask, watch the answer stream in with chips, play the cited moments.
import { html } from "./html.js";
import { useEffect, useRef, useState } from "preact/hooks";
import { useText } from "./i18n.js";
import { ApiError, chatStream } from "./api.js";
import { saved } from "./store.js";
import { KeyForm } from "./fetching.js";
import { Answer, chipLabel } from "./answer.js";
import { playMoment } from "./player.js";
import { momentFrom } from "./moments.js";

const KEY = "castgraph.chat.v1";
const MAX_TURNS = 20; // the server's history limit

function history(exchanges) {
  const turns = [];
  for (const x of exchanges) {
    if (x.status !== "done") continue;
    turns.push({ role: "user", content: x.question }, { role: "assistant", content: x.answer });
  }
  return turns.slice(-MAX_TURNS);
}

function restore() {
  // An answer interrupted by a reload cannot resume: show it as failed, with its retry.
  return saved.get(KEY, []).map((x) => (x.status === "streaming" ? { ...x, status: "error", error: "server" } : x));
}

export function ChatPage() {
  const [t] = useText();
  const [exchanges, setExchanges] = useState(restore);
  const [draft, setDraft] = useState("");
  const busy = exchanges.some((x) => x.status === "streaming");
  const endRef = useRef(null);
  // Saved once an answer ends (or the conversation is cleared), not on every streamed token.
  useEffect(() => { if (!busy) saved.set(KEY, exchanges); }, [exchanges, busy]);
  useEffect(() => endRef.current?.scrollIntoView({ block: "end" }), [exchanges.length]);

  const update = (id, change) =>
    setExchanges((all) => all.map((x) => (x.id === id ? { ...x, ...change(x) } : x)));

  const run = async (id, question, prior) => {
    try {
      await chatStream({ question, history: history(prior) }, (kind, data) =>
        update(id, (x) => applyEvent(x, kind, data)));
      update(id, (x) => (x.status === "streaming" ? { status: "done" } : {}));
    } catch (error) {
      const status = error instanceof ApiError ? error.status : 0;
      const reason = status === 401 ? "key" : status >= 500 ? "llm" : "server";
      const detail = error instanceof ApiError ? error.message : "";
      update(id, () => ({ status: "error", error: reason, detail }));
    }
  };

  const ask = (event) => {
    event.preventDefault();
    const question = draft.trim();
    if (!question || busy) return;
    const id = `${Date.now()}-${Math.random().toString(36).slice(2, 7)}`;
    const prior = exchanges;
    setExchanges([...prior, fresh(id, question)]);
    setDraft("");
    run(id, question, prior);
  };

  const retry = (x) => {
    const prior = exchanges.slice(0, exchanges.indexOf(x));
    update(x.id, () => fresh(x.id, x.question));
    run(x.id, x.question, prior);
  };

  return html`
    <section class="chat">
      <h1 class="visually-hidden">${t.chat}</h1>
      ${exchanges.length === 0 && html`<p class="intro">${t.chatIntro}</p>`}
      <ol class="exchanges">
        ${exchanges.map((x) => html`<${Exchange} key=${x.id} x=${x} onRetry=${() => retry(x)} />`)}
      </ol>
      <div ref=${endRef}></div>
      <form class="ask" onSubmit=${ask}>
        <label class="visually-hidden" for="question">${t.askPlaceholder}</label>
        <textarea id="question" rows="2" maxlength="2000" placeholder=${t.askPlaceholder}
          value=${draft} onInput=${(e) => setDraft(e.target.value)}
          onKeyDown=${(e) => { if (e.key === "Enter" && !e.shiftKey) ask(e); }}></textarea>
        <div class="ask-actions">
          <button type="submit" class="primary" disabled=${busy || !draft.trim()}>${t.ask}</button>
          ${exchanges.length > 0 && html`
            <button type="button" disabled=${busy} onClick=${() => setExchanges([])}>${t.clear}</button>`}
        </div>
      </form>
    </section>`;
}

function fresh(id, question) {
  return { id, question, answer: "", blocks: [], sources: null, status: "streaming", error: null };
}

function applyEvent(x, kind, data) {
  switch (kind) {
    case "context": return { blocks: data.blocks || [] };
    case "token": return { answer: x.answer + (data.text || "") };
    case "revised": return { answer: data.text || "" };
    case "sources": return { sources: data.sources || [] };
    case "done": return { status: "done", fallback: !!data.fallback };
    case "error": return { status: "error", error: data.status >= 500 ? "llm" : "server", detail: data.message };
    default: return {};
  }
}

function Exchange({ x, onRetry }) {
  const [t, lang] = useText();
  const final = x.sources !== null;
  // While tokens stream, chips come from the consulted blocks; the cited moments replace them.
  const chips = final ? x.sources : x.blocks;
  const cited = new Set((x.sources || []).map((s) => s.number));
  const consulted = (x.blocks || []).filter((b) => final && !cited.has(b.number));
  const abstained = x.status === "done" && final && x.sources.length === 0;
  const play = (source) => source && playMoment(momentFrom(source));
  return html`
    <li class="exchange">
      <p class="question"><span class="who">${t.you}</span> ${x.question}</p>
      <div class=${`answer ${x.status}`} aria-live="polite" aria-busy=${x.status === "streaming"}>
        ${abstained && html`<p class="abstained">${t.notInEpisodes}</p>`}
        ${x.answer
          ? html`<${Answer} text=${x.answer} sources=${chips} lang=${lang} onPlay=${play} />`
          : x.status === "streaming" && html`<p class="thinking">${t.thinking}</p>`}
        ${x.status === "error" && x.error === "key" && html`<${KeyForm} onRetry=${onRetry} />`}
        ${x.status === "error" && x.error !== "key" && html`
          <div class="error" role="alert">
            <p>${x.error === "llm" ? t.errorLlm : t.errorServer}${x.detail ? ` (${x.detail})` : ""}</p>
            <button type="button" class="primary" onClick=${onRetry}>${t.retry}</button>
          </div>`}
        ${final && x.sources.length > 0 && html`
          <${SourceList} title=${t.cited} items=${x.sources} cls="cited" onPlay=${play} />`}
        ${consulted.length > 0 && html`
          <details class="consulted"><summary>${t.consulted} (${consulted.length})</summary>
            <${SourceList} items=${consulted} cls="consulted-list" onPlay=${play} />
          </details>`}
      </div>
    </li>`;
}

function SourceList({ title, items, cls, onPlay }) {
  const [t, lang] = useText();
  return html`
    <div class=${cls}>
      ${title && html`<h2 class="list-title">${title}</h2>`}
      <ol class="sources">
        ${items.map((s) => html`
          <li key=${s.number} class="source">
            <button type="button" class="play" data-start=${s.start} onClick=${() => onPlay(s)}
              aria-label=${`${t.play} ${chipLabel(s, lang)}`}>▶</button>
            <div>
              <p class="source-label"><span class="chip-n">${s.number}</span> ${chipLabel(s, lang)}
                ${s.kind && html` <span class="badge">${t[s.kind] || s.kind}</span>`}</p>
              <p class="source-text">${s.text}</p>
            </div>
          </li>`)}
      </ol>
    </div>`;
}
