// The expert's skills: the agencies, services and languages calls come to them for.
// Checkboxes if the account may choose per shift (applied at once), else a list.

import { currentUser } from './auth.js';
import { currentAvailability } from './availability.js';
import { request } from './connection.js';
import { guarded } from './dialog.js';
import { $, element } from './dom.js';
import { agencies, agencyName } from './directory.js';
import { languageName, localized, t } from './i18n.js';

/** Return what the expert's account may serve ({agencies, services, languages}). */
function grants() {
  return currentUser()?.grants?.expert ?? {};
}

/** The service ids the expert may serve of `agencyIds` (all of theirs unless limited). */
function servicesOf(agencyIds) {
  const limited = grants().services;
  const ids = [];
  for (const agency of agencies()) {
    if (!agencyIds.includes(agency.id)) continue;
    for (const service of agency.services) {
      if ((!limited || limited.includes(service.id)) && !ids.includes(service.id)) ids.push(service.id);
    }
  }
  return ids;
}

/** Return the skills ticked in the form (undefined if the account may not choose). */
function chosenSkills() {
  if (!currentAvailability().canChoose) return undefined;
  const checked = (group) => [...$(`skills-${group}`).querySelectorAll('input:checked')].map((i) => i.value);
  const skills = { agencies: checked('agencies'), languages: checked('languages') };
  const offered = servicesOf(skills.agencies);
  const services = checked('services').filter((id) => offered.includes(id));
  // Every service of an unlimited account: send none, which means all (and new ones too).
  const all = !grants().services && offered.every((id) => services.includes(id));
  if (!all) skills.services = services;
  return skills;
}

/** Send the ticked skills to the server, keeping the availability as it is. */
async function sendSkills() {
  const skills = chosenSkills();
  const error = $('skills-error');
  error.textContent = '';
  if (!skills) return;
  if (!skills.agencies.length || !skills.languages.length || (skills.services && !skills.services.length)) {
    error.textContent = t('skills.need_one');
    return;
  }
  const availability = currentAvailability();
  const status = availability.status === 'available' ? 'available' : 'paused';
  const message = { type: 'set_availability', status, skills };
  if (status === 'paused') message.reason = availability.reason ?? $('pause-reason').value;
  try {
    await request(message);
  } catch (failure) {
    console.warn('skills', failure);
    error.textContent = t('skills.failed');
  }
}

/** Show the skills, keeping the keyboard focus where it was. */
export function renderSkills() {
  // Every availability push re-renders the skills: keep the keyboard focus where it was.
  const focused = document.activeElement?.closest?.('#skills-form') ? document.activeElement.dataset.testid : null;
  fillSkills();
  if (focused) document.querySelector(`[data-testid="${focused}"]`)?.focus();
}

/** Fill one skills group: checkboxes to choose from, or the list of `selected`. */
function fillGroup(group, values, selected, name) {
  const { canChoose, status } = currentAvailability();
  const fieldset = $(`skills-${group}`);
  const legend = fieldset.querySelector('legend');
  fieldset.replaceChildren(legend);
  if (!canChoose) {
    const list = element('ul', { className: 'plain-list' });
    for (const value of selected ?? values) list.append(element('li', { text: name(value) }));
    fieldset.append(list);
    return;
  }
  for (const value of values) {
    const label = element('label', { className: 'choice' });
    const input = element('input', { attrs: { type: 'checkbox', value, 'data-testid': `skill-${group}-${value}` } });
    input.checked = (selected ?? values).includes(value);
    input.disabled = status === 'wrap_up';
    input.addEventListener('change', guarded(sendSkills));
    label.append(input, element('span', { text: name(value) }));
    fieldset.append(label);
  }
}

/** Fill the skills form from the account's grants and the current skills. */
function fillSkills() {
  const granted = grants();
  const { canChoose, skills: current } = currentAvailability();
  const skills = current ?? granted;
  $('skills-help').textContent = t(canChoose ? 'skills.choose_help' : 'skills.fixed_help');
  fillGroup('agencies', granted.agencies ?? [], skills.agencies, agencyName);
  fillGroup('languages', granted.languages ?? [], skills.languages, (code) => languageName(code));
  // A chooser picks among every service of their agencies; otherwise only a limited
  // account's services are worth listing ("all services" goes without saying).
  const services = canChoose ? servicesOf(granted.agencies ?? []) : granted.services ?? null;
  $('skills-services').hidden = !services || services.length === 0;
  if (services) {
    const several = (granted.agencies ?? []).length > 1;
    fillGroup('services', services, skills.services ?? services, (id) => {
      const agency = agencies().find((a) => (granted.agencies ?? []).includes(a.id)
        && a.services.some((x) => x.id === id));
      if (!agency) return id;
      const name = localized(agency.services.find((x) => x.id === id).name);
      return several ? `${name} (${localized(agency.name)})` : name;
    });
  }
}
