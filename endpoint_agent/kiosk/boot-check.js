// The kiosk page's boot check: a classic script (the page's CSP allows no inline script),
// run before the modules. If kiosk.js has not run within WAIT_MS, a module failed to load
// (Chromium aborts a module load with net::ERR_NETWORK_CHANGED when the network changes
// under it, and a failed module graph is never retried) and the page would stay on
// "Loading" for good: load it again. Each further try waits twice as long, up to
// MAX_WAIT_MS, counted in the address (?boot=N) because the page keeps nothing in storage.
(function bootCheck() {
  'use strict';

  var WAIT_MS = 8000;
  var MAX_WAIT_MS = 60000;
  var params = new URLSearchParams(location.search);
  var tries = Math.min(Number(params.get('boot')) || 0, 10);
  var wait = Math.min(WAIT_MS * Math.pow(2, tries), MAX_WAIT_MS);

  var timer = window.setTimeout(function reloadIfNotStarted() {
    if (window.etapisteStarted) return;
    console.warn('kiosk: the page did not start in ' + wait / 1000 + ' s; loading it again');
    params.set('boot', String(tries + 1));
    // The fragment stays: on the guest page it is the link's secret, not yet used.
    location.replace(location.pathname + '?' + params.toString() + location.hash);
  }, wait);

  // Modules run before the load event: by then a page that started says so.
  window.addEventListener('load', function started() {
    if (!window.etapisteStarted) return;
    window.clearTimeout(timer);
    if (tries) history.replaceState(null, '', location.pathname);
  });
}());
