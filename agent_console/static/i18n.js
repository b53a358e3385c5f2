// Message catalogues (i18n/<lang>.json) for the expert console.
// Markup carries keys (data-i18n, data-i18n-aria-label, data-i18n-placeholder,
// data-i18n-title); this module fills them in the chosen language and keeps <html lang>
// in step. Adapted from the kiosk's i18n.js.

export const UI_LANGUAGES = ['fi', 'sv', 'en'];
const STORAGE_KEY = 'etapiste.console.lang';

const catalogs = {};
let current = 'fi';

/** Fetch every catalogue; the console cannot speak without them. */
export async function loadCatalogs() {
  await Promise.all(UI_LANGUAGES.map(async (lang) => {
    const response = await fetch(`/console/i18n/${lang}.json`, { cache: 'no-cache' });
    if (!response.ok) throw new Error(`catalogue ${lang}: HTTP ${response.status}`);
    catalogs[lang] = await response.json();
  }));
}

export function language() { return current; }

/** The language to start in: the one chosen before, else the browser's, else Finnish. */
export function initialLanguage() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (UI_LANGUAGES.includes(saved)) return saved;
  } catch { /* storage may be disabled */ }
  for (const tag of navigator.languages ?? [navigator.language]) {
    const lang = String(tag ?? '').slice(0, 2).toLowerCase();
    if (UI_LANGUAGES.includes(lang)) return lang;
  }
  return 'fi';
}

/** Return the message `key` in `lang` (default: the chosen language) with {vars} filled. */
export function t(key, vars = {}, lang = current) {
  const text = catalogs[lang]?.[key] ?? catalogs.en?.[key];
  if (text === undefined) {
    console.warn(`i18n: no message ${key}`);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** Tell whether the catalogue has `key`. */
export function has(key, lang = current) {
  return catalogs[lang]?.[key] !== undefined;
}

/** Pick the chosen language from a server text such as {fi, sv, en}. */
export function localized(names, lang = current) {
  if (!names) return '';
  if (typeof names === 'string') return names;
  return names[lang] ?? names.fi ?? names.en ?? Object.values(names)[0] ?? '';
}

/** The name of a language (ISO 639 code) in the chosen language, e.g. "arabia". */
export function languageName(code, lang = current) {
  return has(`lang.${code}`, lang) ? t(`lang.${code}`, {}, lang) : code;
}

/** Fill every keyed text under `root` in the chosen language. */
export function translate(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) {
    el.textContent = t(el.dataset.i18n, {}, el.dataset.i18nIn || current);
  }
  for (const el of root.querySelectorAll('[data-i18n-aria-label]')) {
    el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel));
  }
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) {
    el.setAttribute('placeholder', t(el.dataset.i18nPlaceholder));
  }
}

/** Switch the whole page to `lang` and remember the choice. */
export function setLanguage(lang, { remember = false } = {}) {
  current = UI_LANGUAGES.includes(lang) ? lang : 'fi';
  document.documentElement.lang = current;
  translate(document);
  document.title = t('app.title');
  if (remember) {
    try { localStorage.setItem(STORAGE_KEY, current); } catch { /* storage may be disabled */ }
  }
}
