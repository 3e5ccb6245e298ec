// An answer's markdown, sanitized, with its [n] markers turned into citation chips.
// Chips are built from the structured sources (never from the text): a number with no source
// is dropped, so the model cannot make a link appear by writing one.
import { html } from "./html.js";
import { useLayoutEffect, useRef } from "preact/hooks";
import { marked } from "marked";
import DOMPurify from "dompurify";
import { clock, shortDate } from "./format.js";
import { text as tr } from "./i18n.js";

const MARKER = /\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]/g;
const HAS_MARKER = /\[\d{1,3}(?:\s*[,;]\s*\d{1,3})*\]/;

export function markdown(source) {
  const raw = marked.parse(source || "", { gfm: true, breaks: true, async: false });
  return DOMPurify.sanitize(raw, { USE_PROFILES: { html: true }, FORBID_TAGS: ["style", "form"] });
}

/** The chip's visible label: speaker · episode · date · mm:ss. */
export function chipLabel(source, lang) {
  return [source.speaker, source.title, shortDate(source.published, lang), clock(source.start)]
    .filter(Boolean)
    .join(" · ");
}

function chip(number, source, lang) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = `chip kind-${source.kind || "block"}`;
  button.dataset.n = String(number);
  button.dataset.start = String(source.start);
  const n = document.createElement("span");
  n.className = "chip-n";
  n.textContent = String(number);
  const label = document.createElement("span");
  label.className = "chip-label";
  label.textContent = chipLabel(source, lang);
  const badge = document.createElement("span");
  badge.className = "badge";
  badge.textContent = tr(source.kind || "block");
  const tip = document.createElement("span");
  tip.className = "chip-tip";
  tip.setAttribute("role", "tooltip");
  tip.id = `tip-${Math.random().toString(36).slice(2)}`;
  tip.textContent = `“${source.text}”`;
  button.setAttribute("aria-describedby", tip.id);
  button.append(n, label, badge, tip);
  return button;
}

/** Replace [n] markers in the text nodes of `root` by chips; unknown numbers disappear. */
export function chipify(root, byNumber, lang) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) if (HAS_MARKER.test(walker.currentNode.data)) nodes.push(walker.currentNode);
  for (const node of nodes) {
    const parts = [];
    let last = 0;
    node.data.replace(MARKER, (match, numbers, offset) => {
      parts.push(document.createTextNode(node.data.slice(last, offset)));
      for (const n of numbers.split(/\s*[,;]\s*/).map(Number)) {
        if (byNumber.has(n)) parts.push(chip(n, byNumber.get(n), lang));
      }
      last = offset + match.length;
      return match;
    });
    parts.push(document.createTextNode(node.data.slice(last)));
    node.replaceWith(...parts);
  }
}

export function Answer({ text, sources, lang, onPlay }) {
  const ref = useRef(null);
  const byNumber = new Map((sources || []).map((s) => [s.number, s]));
  useLayoutEffect(() => {
    ref.current.innerHTML = markdown(text);
    chipify(ref.current, byNumber, lang);
  }, [text, sources, lang]);
  const click = (event) => {
    const button = event.target.closest("button.chip");
    if (button) onPlay(byNumber.get(Number(button.dataset.n)));
  };
  return html`<div class="answer-text" ref=${ref} onClick=${click}></div>`;
}
