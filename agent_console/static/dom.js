// Small helpers for the page: find, build, select and announce, always as text.

const ICONS = '/console/icons.svg';

/** Return the element with this id. */
export const $ = (id) => document.getElementById(id);

/** Make an element; `text` goes in as textContent, never as markup. */
export function element(tag, { className, text, attrs } = {}) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  for (const [name, value] of Object.entries(attrs ?? {})) el.setAttribute(name, value);
  return el;
}

/** Point the <use> with this id at the icon `name` of icons.svg. */
export function setIcon(id, name) {
  $(id).setAttribute('href', `${ICONS}#${name}`);
}

/** Fill a <select> with {value, text} options and select `selected` (else the first). */
export function fillSelect(select, options, selected) {
  select.replaceChildren(...options.map(({ value, text }) => {
    const option = element('option', { text, attrs: { value } });
    option.selected = value === selected;
    return option;
  }));
  if (!options.some((o) => o.value === selected) && options.length) select.value = options[0].value;
}

/** Say `text` through the live region. */
export function announce(text) {
  const announcer = $('announcer');
  announcer.textContent = '';
  // A fresh text a moment later makes screen readers speak even a repeated message.
  setTimeout(() => { announcer.textContent = text; }, 50);
}
