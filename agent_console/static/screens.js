// One screen at a time (<section data-screen>): loading, login, home (the desk between
// calls), offer (a call rings) and call; for an interpreter, interp-home (the desk and its
// ringing requests) and interp-call; for a supervisor or an admin, supervisor. The top
// bar's controls show once signed in (a supervisor has no availability and no bell).

import { $ } from './dom.js';

let screen = 'loading';

/** Return the name of the screen shown. */
export function currentScreen() {
  return screen;
}

/** Focus the heading of the screen shown. */
export function focusHeading() {
  document.querySelector(`section[data-screen="${screen}"] h1`)?.focus({ preventScroll: true });
}

/** Show the screen `name` and focus its heading, unless a dialog holds the focus. */
export function show(name) {
  for (const el of document.querySelectorAll('section[data-screen]')) {
    el.hidden = el.dataset.screen !== name;
  }
  screen = name;
  document.body.dataset.screen = name;
  const loggedIn = name !== 'login' && name !== 'loading';
  const staffDesk = loggedIn && name !== 'supervisor'; // a supervisor takes no calls
  $('availability-bar').hidden = !staffDesk;
  $('ring-mute').hidden = !staffDesk;
  $('who').hidden = !loggedIn;
  $('logout').hidden = !loggedIn || name === 'call' || name === 'interp-call';
  if (!document.querySelector('dialog[open]')) focusHeading();
}
