// The expert's bookings (docs/protocol.md §5.6), or an admin's for any expert (the form
// then asks for whom first): the booking form (a dialog, so that it
// opens over a call too, prefilled with the call's facts), the citizen's code shown large
// with a guest link, and the expert's upcoming appointments with their interpreters'
// answers, a guest link each, and cancelling. Refreshed after every action and every
// 60 s (the server pushes nothing about appointments).

import { api, fetchAppointments } from './api.js';
import { currentUser, onSignOut } from './auth.js';
import { closeDialog, guarded, openDialog } from './dialog.js';
import {
  agencies, agencyName, interpreterText, serviceName, siteOf, sites as directorySites,
} from './directory.js';
import { $, announce, element, fillSelect } from './dom.js';
import { languageName, localized, t } from './i18n.js';
import { clockTime, dayWords, isoInFinland, localDate } from './local-time.js';

const REFRESH_MS = 60_000;
const DURATIONS = [15, 20, 30, 45, 60, 90, 120];
const SPOKEN = ['ar', 'so', 'ru', 'uk', 'fa', 'ckb', 'et', 'zh', 'vi', 'th', 'se', 'en', 'sv', 'fi'];
const SIGN = ['fse', 'fss'];
const MODALITIES = ['spoken', 'sign', 'text'];
const ANY = '';

// The form's fields by the name the server gives in error.field.
const FIELDS = {
  site: 'booking-site',
  start: 'booking-time',
  duration_min: 'booking-duration',
  agency: 'booking-agency',
  service: 'booking-service',
  language: 'booking-language',
  expert: 'booking-expert',
  'interpreter.language': 'booking-interp-language',
  'interpreter.modality': 'booking-interp-modality',
  'interpreter.username': 'booking-interpreter',
};
const FIELD_IDS = [...new Set(Object.values(FIELDS)), 'booking-date'];
const EXPERT_ERROR = 'booking.err_expert';

let appointments = []; // the expert's, from the server, not cancelled, by start
let interpreters = []; // booking-options: who can be booked
let experts = []; // booking-options: for an admin, every expert ({username, agencies, services, languages})
let loaded = false; // the list came at least once
let timer = null;
const guestLinks = new Map(); // appointment id -> the last link fetched for it
let booked = null; // the appointment just booked (the dialog shows its code)
let cancelling = null; // the appointment the confirm dialog asks about

// --- what the expert serves --------------------------------------------------------------

/** Whether the form books for another expert (an admin's desk), not for oneself. */
function forOthers() {
  const roles = currentUser()?.roles ?? [];
  return roles.includes('admin') && !roles.includes('expert');
}

/** The booked expert's grants: {agencies, services?, languages} — one's own, or, for an
 * admin, those of the expert chosen in the form. */
function grants() {
  if (!forOthers()) return currentUser()?.grants?.expert ?? {};
  return experts.find((e) => e.username === $('booking-expert').value) ?? {};
}

/** An expert's name (their username if unknown). */
function expertName(username) {
  return experts.find((e) => e.username === username)?.display_name || username;
}

/** The admin's choice of expert, sorted by name. */
function fillExperts(selected) {
  $('booking-expert-field').hidden = !forOthers();
  if (!forOthers()) return;
  const sorted = [...experts].sort((a, b) => expertName(a.username).localeCompare(expertName(b.username)));
  fillSelect($('booking-expert'), sorted.map((e) => ({
    value: e.username,
    text: `${e.display_name || e.username} (${e.agencies.map(agencyName).join(', ')})`,
  })), selected);
}

/** The agencies the expert serves, as the directory has them. */
function myAgencies() {
  const ids = grants().agencies ?? [];
  return agencies().filter((a) => ids.includes(a.id));
}

/** The services of `agencyId` that the expert serves. */
function myServices(agencyId) {
  const limited = grants().services;
  const agency = agencies().find((a) => a.id === agencyId);
  return (agency?.services ?? []).filter((s) => !limited || limited.includes(s.id));
}

/** The languages of a service that the expert serves. */
function myLanguages(agencyId, serviceId) {
  const service = myServices(agencyId).find((s) => s.id === serviceId);
  const mine = grants().languages ?? [];
  return (service?.languages ?? mine).filter((code) => mine.includes(code));
}

/** The interpreting languages offered for a kind of interpreting and a booking language. */
function interpretingLanguages(modality, bookingLanguage) {
  if (modality === 'sign') return SIGN;
  if (modality === 'text') return [bookingLanguage || 'fi'];
  return SPOKEN.filter((code) => code !== bookingLanguage);
}

/** The interpreters who serve a need for an agency (as the server checks it). */
function eligible({ agency, language, interpLanguage, modality }) {
  return interpreters.filter((i) => i.modalities.includes(modality) && i.agencies.includes(agency)
    && i.languages.includes(interpLanguage) && i.languages.includes(language));
}

/** An interpreter's name (their username if unknown). */
function interpreterName(username) {
  return interpreters.find((i) => i.username === username)?.display_name || username;
}

// --- the form ------------------------------------------------------------------------

/** The sites, by kind (service points, then buses) and by name in the chosen language. */
function fillSites(selected) {
  const select = $('booking-site');
  const sites = directorySites();
  const groups = ['S', 'XS'].map((kind) => {
    const group = element('optgroup', { attrs: { label: t(`booking.sites_${kind}`) } });
    const ofKind = sites.filter((s) => (s.kind === 'XS' ? 'XS' : 'S') === kind)
      .map((s) => ({ id: s.id, name: localized(s.name) || s.id }))
      .sort((a, b) => a.name.localeCompare(b.name, document.documentElement.lang));
    for (const site of ofKind) {
      const option = element('option', { text: site.name, attrs: { value: site.id } });
      option.selected = site.id === selected;
      group.append(option);
    }
    return group;
  }).filter((group) => group.children.length);
  const prompt = element('option', { text: t('booking.choose_site'), attrs: { value: '' } });
  select.replaceChildren(prompt, ...groups);
  select.value = sites.some((s) => s.id === selected) ? selected : '';
}

/** Fill the agency, service and language choices, keeping what can be kept. */
function fillQueue(agency, service, language) {
  fillSelect($('booking-agency'), myAgencies().map((a) => ({ value: a.id, text: localized(a.name) })), agency);
  const agencyId = $('booking-agency').value;
  fillSelect($('booking-service'), myServices(agencyId).map((s) => ({ value: s.id, text: localized(s.name) })), service);
  fillSelect($('booking-language'), myLanguages(agencyId, $('booking-service').value)
    .map((code) => ({ value: code, text: languageName(code) })), language);
}

/** Fill the interpreting choices for the current queue, keeping what can be kept. */
function fillInterpreting(modality, interpLanguage, username) {
  const language = $('booking-language').value;
  fillSelect($('booking-interp-modality'), MODALITIES.map((m) => ({ value: m, text: t(`modality.${m}`) })), modality);
  const kind = $('booking-interp-modality').value;
  fillSelect($('booking-interp-language'), interpretingLanguages(kind, language)
    .map((code) => ({ value: code, text: languageName(code) })), interpLanguage);
  const fit = eligible({
    agency: $('booking-agency').value, language,
    interpLanguage: $('booking-interp-language').value, modality: kind,
  });
  fillSelect($('booking-interpreter'), [
    { value: ANY, text: t('booking.any_interpreter') },
    ...fit.map((i) => ({ value: i.username, text: `${i.display_name || i.username} (${i.provider})` })),
  ], username ?? ANY);
  $('booking-interp-none').hidden = fit.length > 0;
  $('booking-interp-fields').hidden = !$('booking-interpreting').checked;
}

/** Fill the whole form from `prefill` (the call's facts) or the defaults. */
function fillForm(prefill = {}) {
  fillExperts(prefill.expert ?? null);
  fillSites(prefill.site ?? '');
  $('booking-date').value = localDate(1);
  $('booking-date').min = localDate(0);
  $('booking-time').value = '';
  fillSelect($('booking-duration'), DURATIONS.map((n) => ({ value: String(n), text: t('booking.minutes', { n }) })), '30');
  fillQueue(prefill.agency, prefill.service, prefill.language);
  $('booking-interpreting').checked = Boolean(prefill.interpreter);
  fillInterpreting(prefill.interpreter?.modality ?? 'spoken', prefill.interpreter?.language ?? null, ANY);
}

/** Clear every error of the form. */
function clearErrors() {
  for (const id of FIELD_IDS) {
    $(id).removeAttribute('aria-invalid');
    const text = $(`${id}-error`);
    if (text) text.textContent = '';
  }
  $('booking-error').textContent = '';
}

/** Say `text` next to the field `id`, mark it and put the focus in it. */
function fieldError(id, text) {
  const field = $(id);
  const box = $(`${id}-error`);
  if (!box || field.closest('[hidden]')) {
    $('booking-error').textContent = text;
    return;
  }
  box.textContent = text;
  field.setAttribute('aria-invalid', 'true');
  field.focus();
}

/** Plain words for a refused booking, and the field they belong to. */
function refusal({ status, data }) {
  const error = data?.error ?? {};
  const field = error.field ?? null;
  const where = FIELDS[field] ?? null;
  if (status === 401) return { where: null, text: t('booking.expired') };
  if (field === 'start') {
    if (error.code === 'closed') return { where, text: t('booking.err_closed', { agency: agencyName($('booking-agency').value) }) };
    if (error.code === 'conflict') return { where, text: t('booking.err_conflict') };
    return { where, text: t('booking.err_start') };
  }
  const keys = {
    site: 'booking.err_site', duration_min: 'booking.err_duration', agency: 'booking.err_not_served',
    service: 'booking.err_not_served', language: 'booking.err_not_served', expert: EXPERT_ERROR,
    'interpreter.language': 'booking.err_interp_language', 'interpreter.modality': 'booking.err_interp_modality',
    'interpreter.username': 'booking.err_interpreter',
  };
  if (keys[field]) return { where, text: t(keys[field]) };
  return { where: null, text: t('booking.failed') };
}

/** Open the booking dialog, prefilled with `prefill` ({site, agency, service, language, interpreter}). */
export function openBooking(prefill = {}) {
  booked = null;
  $('booking-form').hidden = false;
  $('booking-done').hidden = true;
  clearErrors();
  fillForm(prefill);
  openDialog($('booking-dialog'));
  // The first thing to fill: the site unless the call gave it, else the time.
  (prefill.site && $('booking-site').value ? $('booking-date') : $('booking-site')).focus();
}

/** Read the form as the server's booking body, or say what is missing. */
function readForm() {
  if (forOthers() && !$('booking-expert').value) return { where: 'booking-expert', text: t(EXPERT_ERROR) };
  if (!$('booking-site').value) return { where: 'booking-site', text: t('booking.need_site') };
  if (!$('booking-date').value) return { where: 'booking-date', text: t('booking.need_date') };
  if (!$('booking-time').value) return { where: 'booking-time', text: t('booking.need_time') };
  const body = {
    site: $('booking-site').value,
    start: isoInFinland($('booking-date').value, $('booking-time').value),
    duration_min: Number($('booking-duration').value),
    agency: $('booking-agency').value,
    service: $('booking-service').value,
    language: $('booking-language').value,
  };
  if (forOthers()) body.expert = $('booking-expert').value;
  if ($('booking-interpreting').checked) {
    body.interpreter = { language: $('booking-interp-language').value, modality: $('booking-interp-modality').value };
    if ($('booking-interpreter').value) body.interpreter.username = $('booking-interpreter').value;
  }
  return { body };
}

/** Book: on success show the code; on a refusal say why next to the field. */
async function submitBooking(event) {
  event.preventDefault();
  clearErrors();
  const { body, where, text } = readForm();
  if (!body) {
    fieldError(where, text);
    return;
  }
  const button = $('booking-submit');
  button.disabled = true;
  let reply;
  try {
    reply = await api('POST', '/console/api/appointments', body);
  } catch (failure) {
    console.warn('book', failure);
    reply = { status: 0, data: null };
  } finally {
    button.disabled = false;
  }
  if (reply.status !== 201) {
    const said = reply.status === 0 ? { where: null, text: t('booking.unreachable') } : refusal(reply);
    if (said.where) fieldError(said.where, said.text);
    else $('booking-error').textContent = said.text;
    return;
  }
  booked = reply.data.appointment;
  showBooked();
  await refreshAppointments();
}

/** "1234 5678": the code in groups of four, easier to read aloud and to type. */
function grouped(code) {
  return String(code).replace(/(\d{4})(?=\d)/g, '$1 ');
}

/** Show the booked appointment's code in the dialog. */
function showBooked() {
  $('booking-form').hidden = true;
  $('booking-done').hidden = false;
  renderBooked();
  $('booking-done-title').focus();
  announce(t('booking.done_announce', { code: grouped(booked.code) }));
}

/** Fill the booked appointment's facts in the chosen language. */
function renderBooked() {
  if (!booked) return;
  $('booking-summary').textContent = summaryOf(booked);
  $('booking-code').textContent = grouped(booked.code);
  $('booking-code').dataset.code = booked.code;
  $('booking-code-help').textContent = t('booking.code_help', { agency: agencyName(booked.agency) });
  const link = guestLinks.get(booked.id);
  $('booking-guest-box').hidden = !link;
  $('booking-guest-url').textContent = link ?? '';
}

/** "Tomorrow 10.00–10.30 · Kitee City Library · Kela, General · Finnish". */
function summaryOf(a) {
  return [
    `${dayWords(a.start, t('bookings.today'), t('bookings.tomorrow'))} ${clockTime(a.start)}–${clockTime(a.end)}`,
    siteOf({ id: a.site }).name,
    `${agencyName(a.agency)}, ${serviceName(a.agency, a.service)}`,
    languageName(a.language),
  ].join(' · ');
}

/** Copy `text` to the clipboard; say so in the status line `statusId`. */
async function copy(text, statusId) {
  let ok = true;
  try {
    await navigator.clipboard.writeText(text);
  } catch (failure) {
    console.warn('clipboard', failure);
    ok = false;
  }
  const status = $(statusId);
  status.textContent = t(ok ? 'booking.copied' : 'booking.copy_failed');
  announce(status.textContent);
}

/** Fetch a one-time guest link for an appointment; resolve with its URL or null. */
async function fetchGuestLink(id) {
  let reply;
  try {
    reply = await api('POST', `/console/api/appointments/${encodeURIComponent(id)}/guest-link`);
  } catch (failure) {
    console.warn('guest link', failure);
    return null;
  }
  if (reply.status !== 200) return null;
  const url = reply.data.url ?? new URL(reply.data.path, location.origin).href;
  guestLinks.set(id, url);
  return url;
}

/** The guest link button in the dialog. */
async function bookedGuestLink() {
  if (!booked) return;
  $('booking-copied').textContent = '';
  const url = await fetchGuestLink(booked.id);
  if (!url) {
    $('booking-copied').textContent = t('booking.guest_failed');
    return;
  }
  renderBooked();
  renderAppointments();
  $('booking-guest-copy').focus();
}

// --- the list --------------------------------------------------------------------------

/** Fetch the expert's appointments and show them. */
export async function refreshAppointments() {
  const listed = await fetchAppointments($('appointments-error'), t('bookings.load_failed'));
  if (listed === null) return;
  appointments = listed.filter((a) => a.state !== 'cancelled' && a.code !== undefined);
  loaded = true;
  renderAppointments();
}

/** The interpreter's part of an appointment in words, and how it stands. */
function interpreterLine(a) {
  const need = interpreterText(a.interpreter);
  if (!a.interpreter) return { text: need, status: 'none' };
  if (!a.interpreter.username) return { text: `${need} · ${t('bookings.any_interpreter')}`, status: 'any' };
  const status = a.interpreter.status;
  return {
    text: `${need} · ${interpreterName(a.interpreter.username)}`,
    status,
    word: t(`bookings.status_${status}`),
  };
}

/** One appointment as a list item. */
function appointmentItem(a) {
  const item = element('li', { className: 'appointment', attrs: {
    'data-testid': `appointment-${a.id}`, 'data-appointment-id': a.id, 'data-state': a.state,
    'data-interpreter': a.interpreter?.username ? a.interpreter.status : 'none',
  } });
  const titleId = `appointment-title-${a.id}`;
  const when = element('h3', { className: 'appointment-time', attrs: { id: titleId, 'data-testid': 'appointment-time' },
    text: `${dayWords(a.start, t('bookings.today'), t('bookings.tomorrow'))} ${clockTime(a.start)}–${clockTime(a.end)}` });
  item.setAttribute('aria-labelledby', titleId);
  const facts = element('dl', { className: 'appointment-facts' });
  const fact = (label, text, testid) => {
    const row = element('div');
    const dd = element('dd', { text, attrs: { 'data-testid': testid } });
    row.append(element('dt', { text: t(label) }), dd);
    facts.append(row);
    return dd;
  };
  if (forOthers()) fact('bookings.expert', expertName(a.expert), 'appointment-expert');
  fact('bookings.site', siteOf({ id: a.site }).name, 'appointment-site');
  fact('bookings.service', `${agencyName(a.agency)}, ${serviceName(a.agency, a.service)}`, 'appointment-service');
  fact('bookings.language', languageName(a.language), 'appointment-language');
  const interp = interpreterLine(a);
  const dd = fact('bookings.interpreter', interp.text, 'appointment-interpreter');
  if (interp.word) {
    dd.append(' ', element('span', { className: `booking-status status-${interp.status}`, text: interp.word,
      attrs: { 'data-testid': 'appointment-interpreter-status', 'data-status': interp.status } }));
  }
  if (a.state === 'checked_in') {
    facts.append(element('p', { className: 'small strong', text: t('bookings.checked_in') }));
  }
  const codeBox = element('div', { className: 'appointment-code' });
  codeBox.append(
    element('span', { className: 'small muted', text: t('bookings.code') }),
    element('span', { className: 'code-inline', text: grouped(a.code), attrs: { 'data-testid': 'appointment-code', 'data-code': a.code } }),
  );
  const actions = element('div', { className: 'appointment-actions' });
  const link = element('button', { className: 'secondary', text: t('bookings.guest_link'),
    attrs: { type: 'button', 'data-testid': 'appointment-guest-link', 'aria-describedby': titleId } });
  link.addEventListener('click', guarded(() => listGuestLink(a.id)));
  actions.append(link);
  if (a.state === 'booked') {
    const cancel = element('button', { className: 'secondary danger-text', text: t('bookings.cancel'),
      attrs: { type: 'button', 'data-testid': 'appointment-cancel', 'aria-describedby': titleId } });
    cancel.addEventListener('click', () => askCancel(a));
    actions.append(cancel);
  }
  codeBox.append(actions);
  item.append(when, facts, codeBox);
  const url = guestLinks.get(a.id);
  if (url) {
    const box = element('div', { className: 'guest-box' });
    const statusId = `guest-status-${a.id}`;
    const copyButton = element('button', { className: 'secondary', text: t('booking.copy_link'),
      attrs: { type: 'button', 'data-testid': 'guest-link-copy' } });
    copyButton.addEventListener('click', guarded(() => copy(url, statusId)));
    box.append(
      element('p', { className: 'small', text: t('booking.guest_help') }),
      element('p', { className: 'link-text', text: url, attrs: { 'data-testid': 'guest-link' } }),
      copyButton,
      element('p', { className: 'small muted', attrs: { id: statusId, role: 'status' } }),
    );
    item.append(box);
  }
  return item;
}

/** Show the list in the chosen language, keeping the focus on the same control. */
export function renderAppointments() {
  const list = $('appointments');
  const focusedItem = document.activeElement?.closest?.('[data-appointment-id]')?.dataset.appointmentId;
  const focusedTestid = document.activeElement?.dataset?.testid;
  list.replaceChildren(...appointments.map(appointmentItem));
  $('appointments-empty').hidden = !loaded || appointments.length > 0;
  const declined = appointments.filter((a) => a.interpreter?.status === 'declined').length;
  $('appointments-declined').hidden = declined === 0;
  $('appointments-declined').textContent = declined ? t('bookings.declined_notice', { n: declined }) : '';
  if (focusedItem && focusedTestid) {
    list.querySelector(`[data-appointment-id="${CSS.escape(focusedItem)}"] [data-testid="${focusedTestid}"]`)?.focus();
  }
  if ($('cancel-booking-dialog').open && cancelling) $('cancel-booking-text').textContent = cancelText(cancelling);
}

/** Show the list and an open booking dialog in the chosen language (the choices kept). */
export function renderBookings() {
  renderAppointments();
  if ($('booking-dialog').open) {
    if (!$('booking-form').hidden) {
      fillExperts($('booking-expert').value);
      fillSites($('booking-site').value);
      fillSelect($('booking-duration'), DURATIONS.map((n) => ({ value: String(n), text: t('booking.minutes', { n }) })), $('booking-duration').value);
      fillQueue($('booking-agency').value, $('booking-service').value, $('booking-language').value);
      fillInterpreting($('booking-interp-modality').value, $('booking-interp-language').value, $('booking-interpreter').value);
    }
    renderBooked();
  }
}

/** A guest link for an appointment of the list. */
async function listGuestLink(id) {
  const url = await fetchGuestLink(id);
  if (!url) {
    $('appointments-error').textContent = t('booking.guest_failed');
    return;
  }
  renderAppointments();
  $('appointments').querySelector(`[data-appointment-id="${CSS.escape(id)}"] [data-testid="guest-link-copy"]`)?.focus();
}

/** The question of the confirm dialog. */
function cancelText(a) {
  return t('bookings.cancel_text', { when: summaryOf(a) });
}

/** Ask before cancelling. */
function askCancel(a) {
  cancelling = a;
  $('cancel-booking-text').textContent = cancelText(a);
  $('cancel-booking-error').textContent = '';
  openDialog($('cancel-booking-dialog'));
}

/** Cancel the appointment the dialog asked about. */
async function confirmCancel() {
  const a = cancelling;
  if (!a) return;
  let reply;
  try {
    reply = await api('DELETE', `/console/api/appointments/${encodeURIComponent(a.id)}`);
  } catch (failure) {
    console.warn('cancel', failure);
    reply = { status: 0 };
  }
  if (reply.status !== 200) {
    $('cancel-booking-error').textContent = reply.status === 409 ? t('bookings.cancel_too_late') : t('bookings.cancel_failed');
    return;
  }
  cancelling = null;
  guestLinks.delete(a.id);
  closeDialog($('cancel-booking-dialog'));
  $('bookings-status').textContent = t('bookings.cancelled', { when: summaryOf(a) });
  announce($('bookings-status').textContent);
  await refreshAppointments();
  $('booking-new').focus();
}

// --- start and stop ----------------------------------------------------------------------

/** Fetch who can be booked (once per sign-in is enough; the directory changes rarely). */
async function loadOptions() {
  try {
    const reply = await api('GET', '/console/api/booking-options');
    if (reply.status === 200) {
      interpreters = reply.data.interpreters ?? [];
      experts = reply.data.experts ?? [];
    }
  } catch (failure) {
    console.warn('booking options', failure);
  }
}

/** Start the expert's bookings: the options, the list, and its refresh every minute. */
export async function startBookings() {
  stopBookings();
  await loadOptions();
  await refreshAppointments();
  timer = setInterval(() => refreshAppointments().catch((e) => console.warn(e)), REFRESH_MS);
}

/** Stop the refresh (sign-out). */
export function stopBookings() {
  clearInterval(timer);
  timer = null;
}

/** Wire the form, the dialog's buttons and the desk's Book button. */
export function wireBookings() {
  onSignOut(stopBookings);
  $('booking-new').addEventListener('click', () => openBooking());
  $('booking-form').addEventListener('submit', guarded(submitBooking));
  $('booking-expert').addEventListener('change', () => {
    // Another expert serves other queues: the choices follow, keeping what still fits.
    fillQueue($('booking-agency').value, $('booking-service').value, $('booking-language').value);
    fillInterpreting($('booking-interp-modality').value, $('booking-interp-language').value, null);
  });
  $('booking-agency').addEventListener('change', () => {
    fillQueue($('booking-agency').value, null, $('booking-language').value);
    fillInterpreting($('booking-interp-modality').value, $('booking-interp-language').value, null);
  });
  $('booking-service').addEventListener('change', () => {
    fillQueue($('booking-agency').value, $('booking-service').value, $('booking-language').value);
    fillInterpreting($('booking-interp-modality').value, $('booking-interp-language').value, null);
  });
  $('booking-language').addEventListener('change', () =>
    fillInterpreting($('booking-interp-modality').value, $('booking-interp-language').value, $('booking-interpreter').value));
  $('booking-interpreting').addEventListener('change', () =>
    fillInterpreting($('booking-interp-modality').value, $('booking-interp-language').value, $('booking-interpreter').value));
  $('booking-interp-modality').addEventListener('change', () =>
    fillInterpreting($('booking-interp-modality').value, null, null));
  $('booking-interp-language').addEventListener('change', () =>
    fillInterpreting($('booking-interp-modality').value, $('booking-interp-language').value, $('booking-interpreter').value));
  for (const id of FIELD_IDS) {
    // A field the expert changes is no longer the wrong one.
    $(id).addEventListener('change', () => {
      $(id).removeAttribute('aria-invalid');
      const box = $(`${id}-error`);
      if (box) box.textContent = '';
    });
  }
  $('booking-copy-code').addEventListener('click', guarded(() => copy(booked?.code ?? '', 'booking-copied')));
  $('booking-guest-link').addEventListener('click', guarded(bookedGuestLink));
  $('booking-guest-copy').addEventListener('click', guarded(() => copy(guestLinks.get(booked?.id) ?? '', 'booking-copied')));
  $('booking-another').addEventListener('click', () => {
    const last = booked;
    openBookingAgain(last);
  });
  $('cancel-booking-yes').addEventListener('click', guarded(confirmCancel));
}

/** Book another with the same site, queue and interpreting as `last`. */
function openBookingAgain(last) {
  booked = null;
  $('booking-form').hidden = false;
  $('booking-done').hidden = true;
  $('booking-copied').textContent = '';
  clearErrors();
  fillForm(last ? { expert: last.expert, site: last.site, agency: last.agency, service: last.service,
    language: last.language, interpreter: last.interpreter } : {});
  $('booking-date').focus();
}
