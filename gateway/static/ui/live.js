/* What the page on show keeps running (its poll, its event stream), and the view number
 * that tells a late answer from the current page's: each route change stops both and
 * starts a new view. */

export const POLL_MS = 3000;

let view = 0;
let timer = null;
let stream = null;

/** Stop the last page's poll and stream; the new view's number. */
export function nextView() {
  if (timer) clearInterval(timer);
  timer = null;
  if (stream) stream.abort();
  stream = null;
  view += 1;
  return view;
}

export function currentView() {
  return view;
}

/** Call `fn` every `ms` while this view is on show and the tab is visible. */
export function every(ms, fn) {
  const started = view;
  timer = setInterval(() => { if (started === view && !document.hidden) fn(); }, ms);
}

/** The stream to abort when the view changes. */
export function holdStream(controller) {
  stream = controller;
}
