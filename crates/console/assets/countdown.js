// Counts down to a time: every element with `data-expires-at` (RFC 3339) shows the time
// left ("in 4 min 2 s"), "now: expired" once it passed, in place of the absolute time it
// holds without JavaScript. It checks every second, so content that htmx swaps in counts
// too.
(function () {
  "use strict";
  function left(ms) {
    var s = Math.floor(ms / 1000);
    var m = Math.floor(s / 60);
    return m > 0 ? m + " min " + (s % 60) + " s" : s + " s";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-expires-at]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("data-expires-at"));
      if (isNaN(at)) {
        return;
      }
      el.textContent = at > now ? "in " + left(at - now) : "now: expired";
    });
  }
  tick();
  setInterval(tick, 1000);
})();
