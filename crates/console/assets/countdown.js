// Counts down to a time: every element with `data-expires-at` (RFC 3339) shows the time
// left, "(expired)" once it passed. It checks every second, so content that htmx swaps in
// counts too. Without JavaScript the page shows the absolute time beside it.
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
      el.textContent = at > now ? "(in " + left(at - now) + ")" : "(expired)";
    });
  }
  tick();
  setInterval(tick, 1000);
})();
