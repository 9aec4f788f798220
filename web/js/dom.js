// @ts-check
// Building the DOM without HTML strings: every text goes through textContent (or an attribute),
// so a message, a name or a reaction can never become markup.

/** @typedef {Node | string | number | null | undefined | false | Array<Node | string | number | null | undefined | false>} Child */

/**
 * `h("button", {type: "button", onclick}, "Send")`: an element; children are nodes or texts.
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {Child[]} children
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "text") el.textContent = String(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/** @param {Element} el @param {Child[]} children */
function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. @param {Element} el @param {Child[]} children */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/**
 * The element `selector` names (the page's own markup: any element the app uses is there).
 * @param {string} selector
 * @param {ParentNode} [root]
 * @returns {any}
 */
export const $ = (selector, root = document) => root.querySelector(selector);

/** "14:05", or "Mar 3" for an older day. @param {string | null | undefined} iso */
export function shortTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return d.toLocaleDateString([], { month: "short", day: "numeric" });
}
