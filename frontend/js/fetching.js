// Loading JSON for a page, and the loading / error / retry line every page shows.
import { html } from "./html.js";
import { useCallback, useEffect, useState } from "preact/hooks";
import { useText } from "./i18n.js";
import { ApiError, apiKey, get, getAll, setApiKey } from "./api.js";

/** `path`'s JSON; with `{ all: true }` every page of a paged list route, as one array. */
export function useFetch(path, { all = false } = {}) {
  const [state, setState] = useState({ data: null, error: null });
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ data: attempt ? s.data : null, error: null }));
    (all ? getAll : get)(path)
      .then((data) => live && setState({ data, error: null }))
      .catch((error) => live && setState({ data: null, error }));
    return () => { live = false; };
  }, [path, all, attempt]);
  const reload = useCallback(() => setAttempt((n) => n + 1), []);
  return { ...state, reload };
}

export function Status({ error, loading, onRetry }) {
  const [t] = useText();
  if (loading) return html`<p class="loading">${t.loading}</p>`;
  if (!error) return null;
  if (error instanceof ApiError && error.status === 401) return html`<${KeyForm} onRetry=${onRetry} />`;
  const message = error instanceof ApiError && error.status === 404 ? `${t.notFound} ${error.message}`
    : error instanceof ApiError && error.status ? error.message : t.errorServer;
  return html`
    <div class="error" role="alert"><p>${message}</p>
      ${onRetry && html`<button type="button" class="primary" onClick=${onRetry}>${t.retry}</button>`}
    </div>`;
}

/** The server wants its API key (CASTGRAPH_PUBLIC_READ off, or a wrong key stored): ask for it. */
export function KeyForm({ onRetry }) {
  const [t] = useText();
  const [key, setKey] = useState(apiKey());
  const submit = (event) => {
    event.preventDefault();
    setApiKey(key.trim());
    if (onRetry) onRetry();
  };
  return html`
    <form class="error key-form" role="alert" onSubmit=${submit}><p>${t.apiKeyNeeded}</p>
      <label>${t.apiKey} <input type="password" value=${key} autocomplete="off" required
        onInput=${(e) => setKey(e.target.value)} /></label>
      <button type="submit" class="primary">${t.retry}</button>
    </form>`;
}
