// The castgraph web UI: a header with the pages, the page, and the player beside it.
import { html, render } from "./html.js";
import { useEffect } from "preact/hooks";
import { lang, setLang, useText } from "./i18n.js";
import { useObservable } from "./store.js";
import { match, route } from "./router.js";
import { Player } from "./player.js";
import { ChatPage } from "./chat.js";
import { SearchPage } from "./search.js";
import { EpisodePage, EpisodesPage } from "./episodes.js";
import { PeoplePage, PersonPage } from "./people.js";
import { TopicPage, TopicsPage } from "./topics.js";
import { SubscriptionsPage } from "./subscriptions.js";

const NAV = [["/", "chat"], ["/search", "search"], ["/episodes", "episodes"], ["/people", "people"], ["/topics", "topics"],
  ["/subscriptions", "subscriptions"]];
const SECTION = { episode: "episodes", person: "people", topic: "topics" };

function Page({ page, params }) {
  const [t] = useText();
  switch (page) {
    case "chat": return html`<${ChatPage} />`;
    case "search": return html`<${SearchPage} />`;
    case "episodes": return html`<${EpisodesPage} />`;
    case "episode": return html`<${EpisodePage} key=${params.id} id=${params.id} />`;
    case "people": return html`<${PeoplePage} />`;
    case "person": return html`<${PersonPage} key=${params.name} name=${params.name} />`;
    case "topics": return html`<${TopicsPage} />`;
    case "topic": return html`<${TopicPage} key=${params.key} topicKey=${params.key} />`;
    case "subscriptions": return html`<${SubscriptionsPage} />`;
    default: return html`<p class="error">${t.notFound}</p>`;
  }
}

function App() {
  const path = useObservable(route);
  const [t, current] = useText();
  const [page, params] = match(path.split("?")[0]);
  const section = SECTION[page] || page;
  useEffect(() => {
    document.title = `castgraph — ${t[section] || ""}`;
    // On a phone the nav scrolls sideways: keep the current page's tab in view.
    document.querySelector('.top nav a[aria-current="page"]')?.scrollIntoView({ block: "nearest", inline: "nearest" });
  }, [section, current]);
  return html`
    <a class="skip" href="#main">${current === "es" ? "Ir al contenido" : "Skip to content"}</a>
    <header class="top">
      <a class="brand" href="/" data-nav>castgraph</a>
      <nav aria-label="castgraph">${NAV.map(([href, name]) => html`
        <a href=${href} data-nav aria-current=${section === name ? "page" : undefined}>${t[name]}</a>`)}
      </nav>
      <label class="lang"><span class="lang-text">${t.language}</span>
        <select value=${current} aria-label=${t.language} onChange=${(e) => setLang(e.target.value)}>
          <option value="es">Español</option><option value="en">English</option>
        </select></label>
    </header>
    <div class="layout">
      <main id="main" tabindex="-1"><${Page} page=${page} params=${params} /></main>
      <${Player} />
    </div>`;
}

document.documentElement.lang = lang.get();
render(html`<${App} />`, document.getElementById("app"));
