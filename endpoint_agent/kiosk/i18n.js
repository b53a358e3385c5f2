// Message catalogues (i18n/<lang>.json) and the words the kiosk builds from them.
// Markup carries keys (data-i18n, data-i18n-aria-label, data-i18n-in); this module fills
// them in the chosen language and keeps <html lang> in step.

export const UI_LANGUAGES = ['fi', 'sv', 'en'];

const catalogs = {};
let current = 'fi';

/** Fetch every catalogue; the kiosk cannot speak without them. */
export async function loadCatalogs() {
  await Promise.all(UI_LANGUAGES.map(async (lang) => {
    const response = await fetch(`/kiosk/i18n/${lang}.json`, { cache: 'no-store' });
    if (!response.ok) throw new Error(`catalogue ${lang}: HTTP ${response.status}`);
    catalogs[lang] = await response.json();
  }));
}

export function language() { return current; }

/** Return the message `key` in `lang` (default: the chosen language) with {vars} filled. */
export function t(key, vars = {}, lang = current) {
  const text = catalogs[lang]?.[key] ?? catalogs.en?.[key];
  if (text === undefined) {
    console.warn(`i18n: no message ${key}`);
    return '';
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** Pick the chosen language from a server text such as {fi, sv, en}. */
export function localized(names, lang = current) {
  if (!names) return '';
  if (typeof names === 'string') return names;
  return names[lang] ?? names.fi ?? names.en ?? Object.values(names)[0] ?? '';
}

/** The name of a language (ISO 639 code) in the chosen language, e.g. "arabia". */
export function languageName(code, lang = current) {
  return t(`lang.${code}`, {}, lang) || code;
}

/** Join names as "a, b ja c". */
export function joinList(items) {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')}${t('list.and')}${items[items.length - 1]}`;
}

/** Fill every keyed text under `root` in the chosen language. */
export function translate(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) {
    el.textContent = t(el.dataset.i18n, {}, el.dataset.i18nIn || current);
  }
  for (const el of root.querySelectorAll('[data-i18n-aria-label]')) {
    el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel));
  }
  for (const el of root.querySelectorAll('[data-i18n-alt]')) {
    el.setAttribute('alt', t(el.dataset.i18nAlt));
  }
}

/** Switch the whole page to `lang`. */
export function setLanguage(lang) {
  current = UI_LANGUAGES.includes(lang) ? lang : 'fi';
  document.documentElement.lang = current;
  translate(document);
  document.title = t('app.title');
}
