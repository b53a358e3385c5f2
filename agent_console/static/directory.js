// The directory the server configures (agencies, services, sites, outcomes) and the names
// of its entries in the chosen language.

import { api } from './api.js';
import { languageName, localized, t } from './i18n.js';

let config = null;

/** Fetch the directory; the desk cannot start without it. */
export async function loadDirectory() {
  const reply = await api('GET', '/console/api/config');
  if (reply.status !== 200) throw new Error(`config: HTTP ${reply.status}`);
  config = reply.data;
}

/** Return every agency, with its services. */
export function agencies() {
  return config?.agencies ?? [];
}

/** Return every site (id, kind, name, municipality, region). */
export function sites() {
  return config?.sites ?? [];
}

/** Return the outcomes a call may end with. */
export function outcomes() {
  return config?.outcomes ?? [];
}

/** Return the name of agency `id` (its id if unknown). */
export function agencyName(id) {
  return localized(agencies().find((a) => a.id === id)?.name) || id;
}

/** Return the name of a service of an agency (its id if unknown). */
export function serviceName(agencyId, serviceId) {
  const agency = agencies().find((a) => a.id === agencyId);
  return localized(agency?.services?.find((s) => s.id === serviceId)?.name) || serviceId;
}

/** Return the name of outcome `id`. */
export function outcomeName(id) {
  return localized(outcomes().find((o) => o.id === id)?.name) || id || '';
}

/** Return a site's name, municipality and kind (S or XS), from the message or the directory. */
export function siteOf(site) {
  const known = config?.sites?.find((s) => s.id === site?.id);
  return {
    name: localized(known?.name) || site?.id || '',
    municipality: site?.municipality ?? known?.municipality ?? '',
    kind: site?.kind ?? known?.kind ?? 'S',
  };
}

/** Return the name of interpreter provider `id` (its id if unknown). */
export function providerName(id) {
  return config?.providers?.find((p) => p.id === id)?.name ?? id ?? '';
}

/** Describe an interpreter need: "arabia (spoken)", or that none is needed. */
export function interpreterText(need) {
  if (!need) return t('offer.no_interpreter');
  const modality = t(`modality.${need.modality}`);
  return need.modality === 'text' ? modality : `${languageName(need.language)} (${modality})`;
}
