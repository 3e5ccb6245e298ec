// One `html` tagged template for every component: htm bound to Preact's h.
// htm builds elements from the template, so interpolated values are always text or
// attributes, never markup: untrusted strings cannot become HTML this way.
import { h, render } from "preact";
import htm from "htm";

export const html = htm.bind(h);
export { render };
