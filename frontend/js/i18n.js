// Interface text in Spanish (es-AR wording) and English, picked from the browser, switchable.
import { observable, saved, useObservable } from "./store.js";

const TEXT = {
  es: {
    chat: "Preguntar", search: "Buscar", episodes: "Episodios", people: "Personas",
    topics: "Temas", language: "Idioma",
    askPlaceholder: "Preguntá algo sobre los episodios…", ask: "Preguntar",
    clear: "Borrar conversación", you: "Vos",     chatIntro: "Preguntá en castellano o en inglés. Cada respuesta cita el momento exacto: tocá una cita para escucharlo.",
    cited: "Citado", consulted: "También consultado", thinking: "Buscando en los episodios…",
    notInEpisodes: "No está en los episodios", quote: "cita", paraphrase: "paráfrasis", block: "fragmento",
    errorServer: "No se pudo hablar con el servidor de castgraph.",
    errorLlm: "El modelo de lenguaje no respondió.", retry: "Reintentar",
    play: "Reproducir", playFrom: "Reproducir desde",     copyCitation: "Copiar cita", copyLink: "Copiar enlace", copied: "Copiado",
    query: "Consulta", allEpisodes: "Todos los episodios", speaker: "Quién habla",
    anyLanguage: "Cualquier idioma", from: "Desde", to: "Hasta", results: "resultados",
    noResults: "Nada encontrado. Probá con otras palabras o sacá filtros.",
    foundBy: "Encontrado por", vector: "significado", keyword: "palabras", graph: "grafo",
    speakers: "Participantes",
    transcript: "Transcripción", rename: "Renombrar", save: "Guardar", cancel: "Cancelar",
    newName: "Nombre nuevo", apiKey: "Clave de la API", apiKeyNeeded: "Esta acción necesita la clave de la API del servidor.",
    namedFrom: "Nombre deducido de", confidence: "confianza", confirmed: "confirmado",
    suggestion: "sugerencia", nothingPlaying: "Elegí un momento para escucharlo.",
    loading: "Cargando…", notFound: "No existe.", timeline: "Qué dijo y cuándo",
    allTopics: "Todos los temas", related: "Relacionado con", mentions: "menciones",
    moments: "momentos", filterTopics: "Filtrar temas…", noPeople: "Todavía no hay personas identificadas.",
    failed: "falló", coOccurs: "aparece con",
    subscriptions: "Suscripciones", noSubscriptions: "Todavía no hay suscripciones.",
    pausedUntil: "en pausa hasta", nextRun: "Próxima corrida", resume: "Reanudar", pause: "Pausar",
    runNow: "Correr ahora", unsubscribe: "Desuscribir", lastRun: "Última corrida", found: "encontrados",
    ingested: "ingeridos", failedCount: "fallidos", subscribeTo: "Suscribirse a un canal, lista o feed",
    schedule: "Horario (cron)", subscribe: "Suscribirse", ingestNow: "Ingerir ahora una URL",
    ingest: "Ingerir", active: "activa", paused: "en pausa", keySaved: "Clave guardada: repetí la acción.", truncated: "Se muestran los primeros resultados.",
    player: "Reproductor", close: "Cerrar", episodesEmpty: "Todavía no hay episodios. Ingerí uno con `castgraph ingest URL`.",
  },
  en: {
    chat: "Ask", search: "Search", episodes: "Episodes", people: "People", topics: "Topics",
    language: "Language",
    askPlaceholder: "Ask something about the episodes…", ask: "Ask",
    clear: "Clear conversation", you: "You",     chatIntro: "Ask in Spanish or English. Every answer cites the exact moment: click a citation to hear it.",
    cited: "Cited", consulted: "Also consulted", thinking: "Searching the episodes…",
    notInEpisodes: "Not in the episodes", quote: "quote", paraphrase: "paraphrase", block: "excerpt",
    errorServer: "Could not reach the castgraph server.",
    errorLlm: "The language model did not answer.", retry: "Retry",
    play: "Play", playFrom: "Play from",     copyCitation: "Copy citation", copyLink: "Copy link", copied: "Copied",
    query: "Query", allEpisodes: "All episodes", speaker: "Speaker",
    anyLanguage: "Any language", from: "From", to: "To", results: "results",
    noResults: "Nothing found. Try other words or remove filters.",
    foundBy: "Found by", vector: "meaning", keyword: "keywords", graph: "graph",
    speakers: "Speakers",
    transcript: "Transcript", rename: "Rename", save: "Save", cancel: "Cancel",
    newName: "New name", apiKey: "API key", apiKeyNeeded: "This action needs the server's API key.",
    namedFrom: "Named from", confidence: "confidence", confirmed: "confirmed",
    suggestion: "suggestion", nothingPlaying: "Pick a moment to hear it.",
    loading: "Loading…", notFound: "Not found.", timeline: "What they said, and when",
    allTopics: "All topics", related: "Related to", mentions: "mentions",
    moments: "moments", filterTopics: "Filter topics…", noPeople: "No people identified yet.",
    failed: "failed", coOccurs: "appears with",
    subscriptions: "Subscriptions", noSubscriptions: "No subscriptions yet.",
    pausedUntil: "paused until", nextRun: "Next run", resume: "Resume", pause: "Pause",
    runNow: "Run now", unsubscribe: "Unsubscribe", lastRun: "Last run", found: "found",
    ingested: "ingested", failedCount: "failed", subscribeTo: "Subscribe to a channel, playlist or feed",
    schedule: "Schedule (cron)", subscribe: "Subscribe", ingestNow: "Ingest a URL now",
    ingest: "Ingest", active: "active", paused: "paused", keySaved: "Key saved: repeat the action.", truncated: "Showing the first results.",
    player: "Player", close: "Close", episodesEmpty: "No episodes yet. Ingest one with `castgraph ingest URL`.",
  },
};

function initial() {
  const chosen = saved.get("castgraph.lang", null);
  if (chosen === "es" || chosen === "en") return chosen;
  const browser = (navigator.languages?.[0] || navigator.language || "es").toLowerCase();
  return browser.startsWith("en") ? "en" : "es";
}

export const lang = observable(initial());

export function setLang(next) {
  saved.set("castgraph.lang", next);
  document.documentElement.lang = next;
  lang.set(next);
}

/** The current language and its text; components re-render when the language changes. */
export function useText() {
  const current = useObservable(lang);
  return [TEXT[current], current];
}

export function text(key) {
  return TEXT[lang.get()][key] ?? key;
}
