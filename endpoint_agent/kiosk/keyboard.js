// The on-screen keyboard of the citizen's writing panel.
//
// The booth is a touch screen and its system shows no keyboard of its own (Chromium runs in
// cage), so the page brings one: the Finnish and Swedish layout (å, ä, ö), a shift key that
// locks on a second tap, a row of digits and punctuation behind a toggle, space, erase and
// a big Send. Every key is a real <button> with a name. A tap types where the field's caret
// is and leaves the focus where it was (normally in the field), so the screen's keys and a
// physical keyboard mix freely.

const ICONS = '/kiosk/icons.svg';

// Thirteen columns. Send takes the last two columns of rows 2-4 (see kiosk.css).
const ERASE = { key: 'erase', className: 'span-2' };
const SEND = { key: 'send', className: 'key-send' };
const SHIFT = { key: 'shift', className: 'span-2' };
const MODE = { key: 'mode', className: 'span-2' };
const SPACE = { key: 'space', className: 'span-6' };

const LETTERS = [
  [...'qwertyuiopå', ERASE],
  [...'asdfghjklöä', SEND],
  [SHIFT, ...'zxcvbnm,.'],
  [MODE, '-', SPACE, '?', '!'],
];
const SYMBOLS = [
  [...'1234567890+', ERASE],
  [...'@€%&/()":;\'', SEND],
  [...'#*=_<>[]$,.'],
  [MODE, '-', SPACE, '?', '!'],
];

export class Keyboard {
  /**
   * root: the keyboard's element; input: the field it types in; max: the field's length
   * limit; text(key): the words on the special keys; onSend: the Send key was tapped.
   */
  constructor({ root, input, max, text, onSend }) {
    this.root = root;
    this.input = input;
    this.max = max;
    this.text = text;
    this.onSend = onSend;
    this.mode = 'letters';
    this.shift = 'off'; // 'once': the next letter is a capital; 'lock': all are
    // A tap must not take the focus from the field (its caret shows where text goes).
    root.addEventListener('mousedown', (event) => {
      if (event.target.closest('button')) event.preventDefault();
    });
    root.addEventListener('click', (event) => {
      const button = event.target.closest('button');
      if (button && root.contains(button)) this.press(button);
    });
  }

  /** Back to lower-case letters (a new panel, a new citizen). */
  reset() {
    this.mode = 'letters';
    this.shift = 'off';
    this.render();
  }

  /** Build the keys for the current mode and shift, keeping the focused key focused. */
  render() {
    const focused = this.root.contains(document.activeElement) ? document.activeElement : null;
    const keys = [...this.root.querySelectorAll('button')];
    const focusedKey = focused?.dataset.key;
    const focusedIndex = focused ? keys.indexOf(focused) : -1;
    const rows = this.mode === 'letters' ? LETTERS : SYMBOLS;
    this.root.dataset.mode = this.mode;
    this.root.replaceChildren(...rows.flat().map((spec) => this.key(spec)));
    if (!focused) return;
    const again = focusedKey && focusedKey !== 'char'
      ? this.root.querySelector(`[data-key="${focusedKey}"]`)
      : this.root.querySelectorAll('button')[focusedIndex];
    again?.focus({ preventScroll: true });
  }

  key(spec) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'key';
    if (typeof spec === 'string') {
      const upper = this.shift !== 'off' && spec.toUpperCase() !== spec;
      button.dataset.key = 'char';
      button.textContent = upper ? spec.toUpperCase() : spec;
      button.dataset.char = button.textContent;
      return button;
    }
    button.dataset.key = spec.key;
    button.dataset.testid = `kiosk-key-${spec.key}`;
    button.classList.add(`key-${spec.key}`, ...spec.className.split(' '));
    const label = (iconName, words) => {
      if (iconName) button.insertAdjacentHTML('beforeend', `<svg class="icon" aria-hidden="true"><use href="${ICONS}#${iconName}"></use></svg>`);
      const span = document.createElement('span');
      span.textContent = words;
      button.append(span);
    };
    if (spec.key === 'erase') label('erase', this.text('erase'));
    else if (spec.key === 'space') label(null, this.text('space'));
    else if (spec.key === 'mode') label(null, this.mode === 'letters' ? '123' : 'abc');
    else if (spec.key === 'shift') {
      label(this.shift === 'lock' ? 'lock' : 'shift', this.text(this.shift === 'lock' ? 'shift_lock' : 'shift'));
      button.setAttribute('aria-pressed', String(this.shift !== 'off'));
      button.dataset.state = this.shift;
    } else if (spec.key === 'send') {
      button.classList.add('primary');
      button.dataset.testid = 'kiosk-chat-send'; // the one the docs and tests name
      label('send', this.text('send'));
    }
    return button;
  }

  press(button) {
    const { key } = button.dataset;
    if (key === 'char') {
      this.type(button.dataset.char);
      if (this.shift === 'once') {
        this.shift = 'off';
        this.render();
      }
    } else if (key === 'space') {
      this.type(' ');
    } else if (key === 'erase') {
      this.erase();
    } else if (key === 'shift') {
      this.shift = { off: 'once', once: 'lock', lock: 'off' }[this.shift];
      this.render();
    } else if (key === 'mode') {
      this.mode = this.mode === 'letters' ? 'symbols' : 'letters';
      this.render();
    } else if (key === 'send') {
      this.onSend();
    }
  }

  /** Put `text` where the caret is (replacing a selection), within the length limit. */
  type(text) {
    const { input } = this;
    const [start, end] = this.selection();
    const room = this.max - (input.value.length - (end - start));
    if (room <= 0) return;
    input.setRangeText(text.slice(0, room), start, end, 'end');
    this.changed();
  }

  /** Remove the selection, or the character before the caret. */
  erase() {
    const { input } = this;
    let [start, end] = this.selection();
    if (start === end) {
      if (start === 0) return;
      // A character outside the BMP (an emoji typed on a physical keyboard) is two units.
      const low = input.value.charCodeAt(start - 1);
      start -= low >= 0xdc00 && low <= 0xdfff && start >= 2 ? 2 : 1;
    }
    input.setRangeText('', start, end, 'end');
    this.changed();
  }

  selection() {
    const { input } = this;
    const length = input.value.length;
    return [input.selectionStart ?? length, input.selectionEnd ?? length];
  }

  changed() {
    this.input.dispatchEvent(new Event('input', { bubbles: true }));
  }
}
