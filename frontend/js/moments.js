// A list of playable moments (people's timelines, topic pages).
import { html } from "./html.js";
import { useText } from "./i18n.js";
import { clock, episodePath, shortDate } from "./format.js";
import { playMoment } from "./player.js";

/** What the player needs from any API moment (a source, a search hit, a timeline entry). */
export function momentFrom(m) {
  return { episodeId: m.episode_id, url: m.url || "", link: m.link, title: m.title,
    speaker: m.speaker, start: m.start, text: m.text, published: m.published };
}

export function MomentList({ moments, showEpisode = true, url }) {
  const [t, lang] = useText();
  return html`
    <ol class="moments">${moments.map((m) => html`
      <li class="moment" key=${`${m.episode_id}-${m.start}`}>
        <button type="button" class="play" data-start=${m.start}
          aria-label=${`${t.play} ${clock(m.start)}: ${m.text}`}
          onClick=${() => playMoment(momentFrom({ ...m, url: m.url || url }))}>▶</button>
        <div>
          <p class="moment-meta">${m.speaker && html`<strong>${m.speaker}</strong> · `}
            ${showEpisode && html`<a href=${episodePath(m.episode_id, m.start)} data-nav>${m.title}</a> · `}
            ${showEpisode && m.published ? `${shortDate(m.published, lang)} · ` : ""}${clock(m.start)}</p>
          <p class="moment-text">${m.text}</p>
          ${m.topics?.length > 0 && html`<p class="tags">${m.topics.map((x) => html`
            <a class="tag" href=${`/topics/${encodeURIComponent(x.key)}`} data-nav>${x.name}</a> `)}</p>`}
        </div>
      </li>`)}
    </ol>`;
}
