// The desk's notice line: what just happened (a call ended, was transferred, rang out, or
// the expert was paused for missed calls).

import { $, announce } from './dom.js';
import { agencyName, outcomeName, serviceName } from './directory.js';
import { t } from './i18n.js';

let notice = null; // {key, vars}

/** Return the message key on the notice line (null: none). */
export function noticeKey() {
  return notice?.key ?? null;
}

/** Put the message `key` on the notice line (null: clear it). */
export function setNotice(key, vars = {}) {
  notice = key ? { key, vars } : null;
  renderNotice();
}

/** Put the message `key` on the notice line and announce it. */
export function tell(key, vars = {}) {
  setNotice(key, vars);
  announce($('home-notice').textContent);
}

// The expert's desk and the interpreter's each have the line; one of them is on the page.
const LINES = ['home-notice', 'interp-notice'];

/** Show the notice line in the chosen language. */
export function renderNotice() {
  let text = '';
  if (notice) {
    const { key, vars } = notice;
    const filled = { ...vars };
    if (vars.outcome) filled.outcome = outcomeName(vars.outcome);
    if (vars.agency) filled.agency = agencyName(vars.agency);
    if (vars.service) filled.service = serviceName(vars.agency, vars.service);
    text = t(key, filled);
  }
  for (const id of LINES) {
    $(id).hidden = !notice;
    $(id).textContent = text;
  }
}
