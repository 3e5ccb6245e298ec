// The one player of the page: YouTube sources in the IFrame player, everything else from
// /media/{episode_id} in <audio>/<video>. Any component calls playMoment(); the episode page
// follows `playback` to highlight the line being heard.
import { html } from "./html.js";
import { useEffect, useRef, useState } from "preact/hooks";
import { observable, useObservable } from "./store.js";
import { useText } from "./i18n.js";
import { citation, clock, copyText, episodePath, permalink, youtubeId } from "./format.js";

/** Start this many seconds before a sentence, so its first word is heard whole. */
export const LEAD_SECONDS = 0.75;
const VIDEO = /\.(mp4|m4v|webm|mkv|mov)(\?|#|$)/i;

export const nowPlaying = observable(null);
export const playback = observable({ episodeId: null, time: 0, playing: false });
let token = 0;

/** Play `moment` ({episodeId, url, title, speaker, start, text, published}) in the page. */
export function playMoment(moment, { lead = LEAD_SECONDS } = {}) {
  token += 1;
  nowPlaying.set({ ...moment, at: Math.max(0, (moment.start || 0) - lead), token });
}

export function mediaUrl(episodeId) {
  return `/media/${encodeURIComponent(episodeId)}`;
}

export function Player() {
  const moment = useObservable(nowPlaying);
  const [t] = useText();
  if (!moment) {
    return html`<aside class="player empty" aria-label=${t.player}><p>${t.nothingPlaying}</p></aside>`;
  }
  const video = youtubeId(moment.url);
  return html`
    <aside class="player" aria-label=${t.player}>
      ${video
        ? html`<${YouTubePlayer} moment=${moment} videoId=${video} />`
        : html`<${MediaPlayer} moment=${moment} />`}
      <${NowPlaying} moment=${moment} />
    </aside>`;
}

function NowPlaying({ moment }) {
  const [t, lang] = useText();
  const [copied, setCopied] = useState("");
  const copy = async (what, value) => {
    if (await copyText(value)) setCopied(what);
    setTimeout(() => setCopied(""), 1500);
  };
  const cite = () => citation(moment, lang);
  return html`
    <div class="now">
      <p class="now-meta">
        <strong>${moment.speaker || ""}</strong>${moment.speaker ? " · " : ""}
        <a href=${episodePath(moment.episodeId, moment.start)} data-nav>${moment.title}</a> · ${clock(moment.start)}
      </p>
      ${moment.text && html`<blockquote class="now-text">${moment.text}</blockquote>`}
      <div class="now-actions">
        <button type="button" onClick=${() => copy("cite", cite())}>
          ${copied === "cite" ? t.copied : t.copyCitation}</button>
        <button type="button" onClick=${() => copy("link", permalink(moment.episodeId, moment.start))}>
          ${copied === "link" ? t.copied : t.copyLink}</button>
        <button type="button" onClick=${() => nowPlaying.set(null)}>${t.close}</button>
      </div>
    </div>`;
}

function MediaPlayer({ moment }) {
  const ref = useRef(null);
  const [error, setError] = useState("");
  const isVideo = VIDEO.test(moment.url || "");
  useEffect(() => {
    const el = ref.current;
    const src = mediaUrl(moment.episodeId);
    setError("");
    if (el.getAttribute("src") !== src) el.setAttribute("src", src);
    const go = () => {
      el.currentTime = moment.at;
      el.play().catch(() => {}); // autoplay refused: the controls still sit at the moment
    };
    if (el.readyState >= 1) go();
    else el.addEventListener("loadedmetadata", go, { once: true });
    return () => el.removeEventListener("loadedmetadata", go);
  }, [moment.token]);
  useEffect(() => {
    const el = ref.current;
    const report = () =>
      playback.set({ episodeId: moment.episodeId, time: el.currentTime, playing: !el.paused });
    const failed = () => setError(el.error ? `media error ${el.error.code}` : "media error");
    const events = ["timeupdate", "play", "pause", "seeked"];
    events.forEach((e) => el.addEventListener(e, report));
    el.addEventListener("error", failed);
    return () => {
      events.forEach((e) => el.removeEventListener(e, report));
      el.removeEventListener("error", failed);
    };
  }, [moment.episodeId]);
  const Tag = isVideo ? "video" : "audio";
  return html`
    <${Tag} ref=${ref} class="media" controls preload="metadata" playsinline
      data-episode=${moment.episodeId}></${Tag}>
    ${error && html`<p class="error" role="alert">${error}</p>`}`;
}

let youtubeReady = null;
function loadYouTube() {
  if (!youtubeReady) {
    youtubeReady = new Promise((resolve) => {
      window.onYouTubeIframeAPIReady = () => resolve(window.YT);
      const script = document.createElement("script");
      script.src = "https://www.youtube.com/iframe_api";
      document.head.append(script);
    });
  }
  return youtubeReady;
}

function YouTubePlayer({ moment, videoId }) {
  const host = useRef(null);
  const player = useRef(null);
  useEffect(() => {
    let live = true; // a later moment (or leaving the page) may come before the API loads
    let timer = null;
    loadYouTube().then((YT) => {
      if (!live) return;
      if (player.current && player.current.__video === videoId) {
        player.current.seekTo(moment.at, true);
        player.current.playVideo();
      } else {
        player.current?.destroy?.();
        const target = document.createElement("div");
        host.current.replaceChildren(target);
        player.current = new YT.Player(target, {
          videoId,
          playerVars: { start: Math.floor(moment.at), autoplay: 1, rel: 0 },
          events: { onReady: (e) => { e.target.seekTo(moment.at, true); e.target.playVideo(); } },
        });
        player.current.__video = videoId;
      }
      timer = setInterval(() => {
        const p = player.current;
        const playing = p?.getPlayerState?.() === YT.PlayerState.PLAYING;
        playback.set({ episodeId: moment.episodeId, time: p?.getCurrentTime?.() ?? 0, playing });
      }, 500);
    });
    return () => {
      live = false;
      if (timer) clearInterval(timer);
    };
  }, [moment.token]);
  return html`<div class="youtube" ref=${host}></div>`;
}
