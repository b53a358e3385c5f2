// The document camera on the call screen: the citizen sees what it sees, where to lay the
// paper, the outline the agent found, and plain advice until the picture is sent.
//
// The local agent owns the camera (docs/booth.md, "The document camera"): the page tells it
// which call is on (PUT /api/call), polls its state four times a second (GET /api/doccam)
// and shows its MJPEG preview (GET /api/doccam/preview) in an <img> only while the view is
// open. The view is big ("paper mode": the call screen gets .is-paper) and the expert's
// video stays in view beside it, smaller.

import * as agent from './agent.js';

export const POLL_MS = 250;
export const FEEDBACK_CODES = ['no_document', 'blur', 'glare', 'not_in_view', 'too_small', 'ok'];
// A new piece of advice shows once it has held this long: the sentence does not flicker
// between two codes, and a screen reader hears each sentence once.
export const HOLD_MS = 600;
export const SENT_SHOWN_MS = 6000;
// A view that came up by itself goes back to the expert when the paper has been gone this long.
export const AUTO_CLOSE_MS = 8000;
// The guide frame: where to lay the paper, as a share of the picture from each edge.
export const GUIDE_INSET = 0.06;
const RETELL_MS = 2000;
const FAILED_POLLS_OFF = 4; // the agent did not answer this many times: treat as off

/** Whether `feedback` means a paper is under the camera. */
export function documentPresent(feedback) {
  return feedback !== null && feedback !== undefined && feedback !== 'no_document';
}

/** The outline polygon's points in a picture of `width` x `height` ('' without corners). */
export function outlinePoints(corners, width, height) {
  if (!Array.isArray(corners) || corners.length !== 4) return '';
  return corners.map(([x, y]) => `${(x * width).toFixed(1)},${(y * height).toFixed(1)}`).join(' ');
}

/** The guide frame's four corner marks as one SVG path in a `width` x `height` picture. */
export function guidePath(width, height, inset = GUIDE_INSET) {
  const x0 = width * inset;
  const y0 = height * inset;
  const x1 = width - x0;
  const y1 = height - y0;
  const arm = Math.min(width, height) * 0.12;
  return [
    `M${x0} ${y0 + arm}V${y0}H${x0 + arm}`,
    `M${x1 - arm} ${y0}H${x1}V${y0 + arm}`,
    `M${x1} ${y1 - arm}V${y1}H${x1 - arm}`,
    `M${x0 + arm} ${y1}H${x0}V${y1 - arm}`,
  ].join('');
}

/**
 * Settle a stream of feedback codes: `next(code, now)` returns the code to show, which
 * changes only when a new code has held for `holdMs` (the first one shows at once).
 */
export class FeedbackHold {
  constructor(holdMs = HOLD_MS) {
    this.holdMs = holdMs;
    this.reset();
  }

  reset() {
    this.shown = null;
    this.candidate = null;
    this.since = 0;
  }

  next(code, now) {
    if (code === this.shown) {
      this.candidate = null;
      return this.shown;
    }
    if (this.shown === null) {
      this.shown = code;
      this.candidate = null;
      return code;
    }
    if (code !== this.candidate) {
      this.candidate = code;
      this.since = now;
    }
    if (now - this.since >= this.holdMs) {
      this.shown = code;
      this.candidate = null;
    }
    return this.shown;
  }
}

export class DocumentCamera {
  /**
   * @param {object} options
   * @param {HTMLElement} options.screen the call screen (gets .is-paper while the view is open)
   * @param {(key: string, vars?: object) => string} options.t the message catalogue
   * @param {(text: string) => void} options.announce say something politely (screen readers)
   * @param {() => boolean} options.mayOpenByItself false while the citizen is busy (writing)
   * @param {() => void} options.beforeOpen make room for the view (close the writing panel)
   */
  constructor({ screen, t, announce, mayOpenByItself = () => true, beforeOpen = () => {}, api = agent, now = () => Date.now() }) {
    this.screen = screen;
    this.t = t;
    this.announce = announce;
    this.mayOpenByItself = mayOpenByItself;
    this.beforeOpen = beforeOpen;
    this.api = api;
    this.now = now;
    const $ = (id) => document.getElementById(id);
    this.el = {
      show: $('doccam-show'),
      hide: $('doccam-hide'),
      view: $('doccam-view'),
      preview: $('doccam-preview'),
      overlay: $('doccam-overlay'),
      guide: $('doccam-guide-path'),
      guideHalo: $('doccam-guide-halo'),
      outline: $('doccam-outline'),
      feedback: $('doccam-feedback'),
      steady: $('doccam-steady'),
      steadyBar: $('doccam-steady-bar'),
      starting: $('doccam-starting'),
      sent: $('doccam-sent'),
      sentText: $('doccam-sent-text'),
      error: $('doccam-error'),
    };
    this.hold = new FeedbackHold();
    this.sessionId = null;
    this.timer = null;
    this.status = null;
    this.open = false;
    this.openedByItself = false;
    this.declined = false; // the citizen went back to the expert while a paper lay there
    this.goneSince = null;
    this.lastStill = undefined; // undefined: not known yet (the first status sets it)
    this.failures = 0;
    this.sentTimer = null;
    this.previewRetry = null;
    this.size = { width: 1280, height: 720 };
    this.telling = Promise.resolve(); // PUT /api/call in order: a late "null" must not win
    this.el.show.addEventListener('click', () => this.openView({ byItself: false }));
    this.el.hide.addEventListener('click', () => this.closeView({ declined: true }));
    this.el.preview.addEventListener('load', () => this.fitOverlay());
    this.el.preview.addEventListener('error', () => this.previewBroke());
    this.fitOverlay();
  }

  /** The call `sessionId` is on: let the agent join the document camera to it and watch. */
  start(sessionId) {
    if (this.sessionId === sessionId && this.timer) return;
    this.reset();
    this.sessionId = sessionId;
    this.tellAgent(sessionId);
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.poll();
  }

  /** The call is over: the agent stops the camera; nothing of it stays on the screen. */
  stop() {
    const wasOn = this.sessionId !== null;
    this.reset();
    if (wasOn) this.tellAgent(null);
  }

  /** PUT /api/call, one at a time; a call the agent did not hear about is told again. */
  tellAgent(sessionId) {
    this.telling = this.telling.then(() => this.api.setCall(sessionId)).catch((error) => {
      console.warn('doccam: PUT /api/call', error);
      if (sessionId !== null) {
        setTimeout(() => { if (this.sessionId === sessionId) this.tellAgent(sessionId); }, RETELL_MS);
      }
    });
  }

  reset() {
    clearInterval(this.timer);
    this.timer = null;
    this.sessionId = null;
    this.status = null;
    this.failures = 0;
    this.lastStill = undefined;
    this.declined = false;
    this.goneSince = null;
    this.hold.reset();
    this.closeView({ quiet: true });
    this.hideSent();
    this.el.show.hidden = true;
    this.el.error.hidden = true;
    this.el.error.textContent = '';
    this.el.feedback.textContent = '';
    delete this.el.feedback.dataset.feedback;
  }

  async poll() {
    const sessionId = this.sessionId;
    if (this.polling || sessionId === null) return;
    this.polling = true;
    let status = null;
    try {
      status = await this.api.doccamStatus();
      this.failures = 0;
    } catch (error) {
      this.failures += 1;
      if (this.failures === 1) console.warn('doccam: GET /api/doccam', error);
      if (this.failures >= FAILED_POLLS_OFF) status = { state: 'off' };
    } finally {
      this.polling = false;
    }
    if (status && this.sessionId === sessionId) this.render(status);
  }

  /** Show one status of GET /api/doccam. */
  render(status) {
    this.status = status;
    this.rendering = true;
    try {
      this.renderStatus(status);
    } finally {
      this.rendering = false;
    }
  }

  renderStatus(status) {
    const state = status.state ?? 'off';
    const working = state === 'on' || state === 'starting';
    this.el.error.hidden = state !== 'error';
    if (state === 'error') {
      if (!this.el.sent.hidden) this.hideSent(); // the broken camera is the news now
      const text = this.t('doccam.error');
      if (this.el.error.textContent !== text) this.el.error.textContent = text;
    }
    if (!working) {
      this.closeView({ quiet: true });
      this.el.show.hidden = true;
      this.hold.reset();
      this.noteStill(status.last_still ?? null);
      return;
    }
    if (!this.open) this.el.show.hidden = false;
    const now = this.now();
    const feedback = state === 'on' && FEEDBACK_CODES.includes(status.feedback) ? status.feedback : null;
    this.decideOpen(feedback, now);
    this.noteStill(status.last_still ?? null);
    if (!this.open) return;
    this.el.starting.hidden = state === 'on';
    this.setPreview(state === 'on');
    this.renderFeedback(feedback === null ? null : this.hold.next(feedback, now), status);
    this.el.outline.setAttribute('points', state === 'on' ? outlinePoints(status.corners, this.size.width, this.size.height) : '');
    this.el.outline.dataset.ok = String(feedback === 'ok');
  }

  /** Open the view by itself when a paper appears; go back when it has long been gone. */
  decideOpen(feedback, now) {
    if (documentPresent(feedback)) {
      this.goneSince = null;
      if (!this.open && !this.declined && this.mayOpenByItself()) this.openView({ byItself: true });
      return;
    }
    this.declined = false;
    if (this.goneSince === null) this.goneSince = now;
    if (this.open && this.openedByItself && now - this.goneSince >= AUTO_CLOSE_MS) {
      this.closeView({ declined: false });
    }
  }

  renderFeedback(code, status) {
    const feedback = this.el.feedback;
    // "Hold it still" only when holding still will take a picture: auto-capture is on and
    // an expert is there to receive it. Otherwise a good paper is simply said to be good.
    const counting = code === 'ok' && status.auto_capture !== false;
    const key = code === 'ok' && !counting ? 'doccam.feedback.ok_shown' : `doccam.feedback.${code}`;
    if (code === null) {
      if (feedback.textContent) feedback.textContent = '';
      delete feedback.dataset.feedback;
      delete feedback.dataset.sentence;
    } else if (feedback.dataset.sentence !== key) {
      // Only a changed sentence is written: the live region speaks it once.
      feedback.dataset.feedback = code;
      feedback.dataset.sentence = key;
      feedback.textContent = this.t(key);
    }
    const steady = counting ? Math.max(0, Math.min(1, Number(status.steady) || 0)) : 0;
    this.el.steady.hidden = !counting;
    const percent = Math.round(steady * 100);
    if (this.el.steady.getAttribute('aria-valuenow') !== String(percent)) {
      this.el.steady.setAttribute('aria-valuenow', String(percent));
      this.el.steadyBar.style.strokeDashoffset = String(100 - percent);
      this.el.steadyBar.style.visibility = percent ? '' : 'hidden'; // no dot at 0 %
    }
  }

  /** A new still since the call began: tell the citizen it went to the expert. */
  noteStill(still) {
    const id = still?.still_id ?? null;
    if (this.lastStill === undefined) {
      this.lastStill = id; // what was there before this page looked is not news
      return;
    }
    if (id === null || id === this.lastStill) return;
    this.lastStill = id;
    this.showSent();
  }

  showSent() {
    clearTimeout(this.sentTimer);
    const text = this.t('doccam.sent');
    this.el.sentText.textContent = text;
    this.el.sent.hidden = false;
    this.announce(text);
    this.sentTimer = setTimeout(() => this.hideSent(), SENT_SHOWN_MS);
  }

  hideSent() {
    clearTimeout(this.sentTimer);
    this.sentTimer = null;
    this.el.sent.hidden = true;
    this.el.sentText.textContent = '';
  }

  openView({ byItself }) {
    if (this.open || this.sessionId === null) return;
    const hadFocus = document.activeElement === this.el.show;
    this.beforeOpen();
    this.open = true;
    this.openedByItself = byItself;
    this.declined = false;
    this.hold.reset();
    this.screen.classList.add('is-paper');
    this.el.view.hidden = false;
    this.el.show.hidden = true;
    this.el.hide.hidden = false;
    this.el.show.setAttribute('aria-expanded', 'true');
    // The button the citizen pressed gave way to its opposite, in the same place.
    if (!byItself || hadFocus) this.el.hide.focus({ preventScroll: true });
    if (this.status && !this.rendering) this.render(this.status);
  }

  closeView({ declined = false, quiet = false } = {}) {
    const wasOpen = this.open;
    const hadFocus = document.activeElement === this.el.hide;
    this.open = false;
    this.openedByItself = false;
    if (declined && documentPresent(this.status?.feedback)) this.declined = true;
    this.screen.classList.remove('is-paper');
    this.el.view.hidden = true;
    this.el.hide.hidden = true;
    this.el.show.setAttribute('aria-expanded', 'false');
    this.setPreview(false);
    this.el.outline.setAttribute('points', '');
    this.el.steady.hidden = true;
    this.el.feedback.textContent = '';
    delete this.el.feedback.dataset.feedback;
    if (!quiet && wasOpen) {
      const state = this.status?.state;
      this.el.show.hidden = !(state === 'on' || state === 'starting');
      if (hadFocus || declined) this.el.show.focus({ preventScroll: true });
    }
  }

  /** Stream the preview only while it can be seen: clearing src closes the stream. */
  setPreview(on) {
    const img = this.el.preview;
    if (on && !img.getAttribute('src')) {
      clearTimeout(this.previewRetry);
      img.src = `/api/doccam/preview?v=${Date.now()}`;
    } else if (!on) {
      clearTimeout(this.previewRetry);
      if (img.getAttribute('src')) img.removeAttribute('src');
    }
  }

  /** The stream broke (the agent restarted the camera): open it again if it should be on. */
  previewBroke() {
    if (!this.el.preview.getAttribute('src')) return;
    this.el.preview.removeAttribute('src');
    clearTimeout(this.previewRetry);
    this.previewRetry = setTimeout(() => {
      if (this.open && this.status?.state === 'on') this.setPreview(true);
    }, 1000);
  }

  /** Draw the guide and the outline in the picture's own pixels, over the contained <img>. */
  fitOverlay() {
    const img = this.el.preview;
    const width = img.naturalWidth || this.size.width;
    const height = img.naturalHeight || this.size.height;
    const changed = width !== this.size.width || height !== this.size.height;
    this.size = { width, height };
    this.el.overlay.setAttribute('viewBox', `0 0 ${width} ${height}`);
    const path = guidePath(width, height);
    this.el.guide.setAttribute('d', path);
    this.el.guideHalo.setAttribute('d', path);
    if (changed && this.status && !this.rendering) this.render(this.status);
  }

  /** Technical state for tests and support staff. */
  diagnostics() {
    return {
      session: this.sessionId !== null,
      state: this.status?.state ?? null,
      open: this.open,
      openedByItself: this.openedByItself,
      preview: Boolean(this.el.preview.getAttribute('src')),
    };
  }
}

