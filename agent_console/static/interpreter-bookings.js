// The interpreter's bookings (docs/protocol.md §5.6): the appointments an expert booked
// this interpreter for, today's and later ones, with Confirm and Decline while the answer
// is pending. There is no push for appointments: the list is fetched at the start, after
// each answer and every 60 s, by a timer that stops with the login.

import { api, fetchAppointments } from './api.js';
import { onSignOut } from './auth.js';
import { guarded } from './dialog.js';
import { agencyName, interpreterText, serviceName, siteOf } from './directory.js';
import { $, announce, element } from './dom.js';
import { languageName, t } from './i18n.js';
import { clockTime, dayWords } from './local-time.js';

const REFRESH_MS = 60_000;

let bookings = []; // from the server, by start
let loaded = false;
let timer = null;
let answering = null; // the booking id whose answer is on its way

/** Fetch the interpreter's bookings and show them. */
export async function refreshInterpreterBookings() {
  const listed = await fetchAppointments($('ibookings-error'), t('bookings.load_failed'));
  if (listed === null) return;
  bookings = listed;
  loaded = true;
  renderInterpreterBookings();
}

/** How a booking stands for the interpreter: its key word and data-status. */
function standing(a) {
  if (a.state === 'cancelled') return 'cancelled';
  if (a.state === 'checked_in') return 'checked_in';
  return a.interpreter?.status ?? 'pending';
}

/** One booking as a list item. */
function bookingItem(a) {
  const status = standing(a);
  const item = element('li', { className: 'appointment', attrs: {
    'data-testid': `booking-${a.id}`, 'data-booking-id': a.id, 'data-status': status,
  } });
  const titleId = `booking-title-${a.id}`;
  item.setAttribute('aria-labelledby', titleId);
  item.append(element('h3', { className: 'appointment-time', attrs: { id: titleId, 'data-testid': 'booking-time' },
    text: `${dayWords(a.start, t('bookings.today'), t('bookings.tomorrow'))} ${clockTime(a.start)}–${clockTime(a.end)}` }));
  const facts = element('dl', { className: 'appointment-facts' });
  const fact = (label, text, testid) => {
    const row = element('div');
    const dd = element('dd', { text, attrs: { 'data-testid': testid } });
    row.append(element('dt', { text: t(label) }), dd);
    facts.append(row);
    return dd;
  };
  fact('ibookings.need', interpreterText(a.interpreter), 'booking-need');
  fact('bookings.site', siteOf({ id: a.site }).name, 'booking-site');
  fact('bookings.service', `${agencyName(a.agency)}, ${serviceName(a.agency, a.service)}`, 'booking-service');
  fact('ibookings.call_language', languageName(a.language), 'booking-language');
  const side = element('div', { className: 'appointment-code' });
  side.append(element('span', { className: `booking-status status-${status}`, text: t(`ibookings.status_${status}`),
    attrs: { 'data-testid': 'booking-status', 'data-status': status } }));
  if (status === 'pending') {
    const actions = element('div', { className: 'appointment-actions' });
    const decline = element('button', { className: 'secondary', text: t('ibookings.decline'),
      attrs: { type: 'button', 'data-testid': 'booking-decline', 'aria-describedby': titleId } });
    const confirm = element('button', { className: 'accept', text: t('ibookings.confirm'),
      attrs: { type: 'button', 'data-testid': 'booking-confirm', 'aria-describedby': titleId } });
    for (const button of [decline, confirm]) button.disabled = answering === a.id;
    decline.addEventListener('click', guarded(() => answer(a, 'decline')));
    confirm.addEventListener('click', guarded(() => answer(a, 'confirm')));
    actions.append(decline, confirm);
    side.append(actions);
  }
  item.append(facts, side);
  return item;
}

/** Show the list in the chosen language, keeping the focus where it was. */
export function renderInterpreterBookings() {
  const list = $('ibookings');
  const focusedItem = document.activeElement?.closest?.('[data-booking-id]')?.dataset.bookingId;
  const focusedTestid = document.activeElement?.dataset?.testid;
  list.replaceChildren(...bookings.map(bookingItem));
  $('ibookings-empty').hidden = !loaded || bookings.length > 0;
  if (focusedItem && focusedTestid) {
    const item = list.querySelector(`[data-booking-id="${CSS.escape(focusedItem)}"]`);
    // The answered booking's buttons are gone: the focus stays on its heading's item.
    const target = item?.querySelector(`[data-testid="${focusedTestid}"]`);
    if (target) target.focus();
    else if (item) {
      item.tabIndex = -1;
      item.focus();
    }
  }
}

/** Confirm or decline a booking, then fetch the list again. */
async function answer(a, what) {
  if (answering) return;
  answering = a.id;
  renderInterpreterBookings();
  let reply;
  try {
    reply = await api('POST', `/console/api/appointments/${encodeURIComponent(a.id)}/${what}`);
  } catch (failure) {
    console.warn(what, failure);
    reply = { status: 0 };
  } finally {
    answering = null;
  }
  if (reply.status !== 200) {
    $('ibookings-error').textContent = reply.status === 409 ? t('ibookings.changed') : t('ibookings.failed');
  } else {
    $('ibookings-error').textContent = '';
    announce(t(what === 'confirm' ? 'ibookings.confirmed_announce' : 'ibookings.declined_announce'));
  }
  await refreshInterpreterBookings();
}

/** Start the list and its refresh every minute. */
export async function startInterpreterBookings() {
  stopInterpreterBookings();
  await refreshInterpreterBookings();
  timer = setInterval(() => refreshInterpreterBookings().catch((e) => console.warn(e)), REFRESH_MS);
}

/** Stop the refresh (sign-out). */
export function stopInterpreterBookings() {
  clearInterval(timer);
  timer = null;
}

/** Stop the refresh with the login. */
export function wireInterpreterBookings() {
  onSignOut(stopInterpreterBookings);
}
