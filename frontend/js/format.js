// Times, dates and the journalist's citation format.

const YOUTUBE_HOSTS = new Set([
  "youtube.com", "www.youtube.com", "m.youtube.com", "youtu.be", "music.youtube.com",
]);

/** 75.4 → "01:15"; with hours "1:02:03" (the server's clock format). */
export function clock(seconds) {
  const total = Math.max(0, Math.floor(seconds || 0));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
}

/** Always hh:mm:ss, as a journalist cites a recording. */
export function hms(seconds) {
  const total = Math.max(0, Math.floor(seconds || 0));
  const two = (n) => String(n).padStart(2, "0");
  return `${two(Math.floor(total / 3600))}:${two(Math.floor((total % 3600) / 60))}:${two(total % 60)}`;
}

export function shortDate(iso, lang) {
  if (!iso) return "";
  const d = new Date(`${iso.slice(0, 10)}T12:00:00`);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleDateString(lang === "es" ? "es-AR" : "en-US", {
    year: "numeric", month: "short", day: "numeric",
  });
}

export function duration(seconds) {
  if (seconds == null) return "";
  const m = Math.round(seconds / 60);
  return m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m} min`;
}

export function youtubeId(url) {
  try {
    const u = new URL(url);
    if (!YOUTUBE_HOSTS.has(u.hostname)) return null;
    if (u.hostname === "youtu.be") return u.pathname.slice(1) || null;
    return u.searchParams.get("v") || u.pathname.split("/").filter(Boolean).pop() || null;
  } catch {
    return null;
  }
}

/** The UI's own episode page, optionally at a second. */
export function episodePath(episodeId, seconds) {
  const at = seconds == null ? "" : `?t=${Math.floor(seconds)}`;
  return `/e/${encodeURIComponent(episodeId)}${at}`;
}

/** The page that opens this episode at this second in castgraph's own UI. */
export function permalink(episodeId, seconds) {
  return `${location.origin}${episodePath(episodeId, seconds || 0)}`;
}

/**
 * The link a citation carries: the server's own `link` at that second when it is public
 * (YouTube, a public enclosure; the server decides what is public), else our permalink.
 */
export function shareLink({ link, episodeId, start }) {
  return link && !link.startsWith("/") ? link : permalink(episodeId, start);
}

/** "Name — Show, date, hh:mm:ss, link" (the format a journalist pastes into a story). */
export function citation(moment, lang) {
  const who = moment.speaker || (lang === "es" ? "Participante" : "Speaker");
  const when = moment.published ? shortDate(moment.published, lang) : "";
  const parts = [moment.title, when, hms(moment.start), shareLink(moment)].filter(Boolean);
  return `${who} — ${parts.join(", ")}`;
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Clipboard API needs a secure context or permission: fall back to a hidden textarea.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}
