// Client-side routes on the History API; the server answers every UI path with index.html.
import { observable } from "./store.js";

export const route = observable(location.pathname + location.search);

export function navigate(path, { replace = false } = {}) {
  if (path === location.pathname + location.search) return;
  history[replace ? "replaceState" : "pushState"](null, "", path);
  route.set(path);
  window.scrollTo(0, 0);
}

addEventListener("popstate", () => route.set(location.pathname + location.search));

// Same-origin links marked data-nav (or inside the nav) change the page without a reload.
document.addEventListener("click", (event) => {
  const link = event.target.closest?.("a[data-nav]");
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(link.getAttribute("href"), location.href); // SVG links have no string .href
  if (url.origin !== location.origin) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});

/** [page, params] for a path: /, /search, /episodes, /e/{id}, /people[/{name}], /topics[/{key}]. */
export function match(pathname) {
  const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  const [head, arg] = parts;
  if (!head) return ["chat", {}];
  if (head === "search") return ["search", {}];
  if (head === "episodes") return ["episodes", {}];
  if (head === "e" && arg) return ["episode", { id: arg }];
  if (head === "people") return arg ? ["person", { name: arg }] : ["people", {}];
  if (head === "topics") return arg ? ["topic", { key: arg }] : ["topics", {}];
  if (head === "subscriptions") return ["subscriptions", {}];
  return ["missing", {}];
}
