/* The reply box of a hand-off: its SMS segment count, live, and the canned
   replies (Alt+1..9 or a click puts one in; nothing is sent until Send).
   The counting rules are bot/engine/segments.py's, written again here;
   tests/test_browser_replies.py checks that both count the same. */
(function () {
  "use strict";

  // GSM 03.38 basic set and the extension table (two septets each), as in segments.py.
  var BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
              "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENDED = "\f^{}\\[~]|€";

  function count(text) {
    var septets = 0, odd = "";
    for (var i = 0; i < text.length; i++) {
      var ch = text[i];
      if (BASIC.indexOf(ch) >= 0) septets += 1;
      else if (EXTENDED.indexOf(ch) >= 0) septets += 2;
      else { odd = odd || String.fromCodePoint(text.codePointAt(i)); }
    }
    var gsm = !odd, units = gsm ? septets : text.length;  // UCS-2: UTF-16 code units, as JS counts them
    var single = gsm ? 160 : 70, multi = gsm ? 153 : 67;
    var segments = units === 0 ? 0 : units <= single ? 1 : Math.ceil(units / multi);
    return { encoding: gsm ? "GSM-7" : "UCS-2", units: units, segments: segments, odd: odd };
  }
  window.opsSegments = count;  // for the test that checks JS and Python agree

  var box = document.getElementById("reply-text");
  var shown = document.getElementById("reply-segments");
  if (!box) return;

  var last = null;  // the value last counted
  function say() {
    last = box.value;
    if (!shown || shown.dataset.channel === "whatsapp") return;  // WhatsApp is not split into SMS parts
    var c = count(box.value);
    var parts = c.segments + (c.segments === 1 ? " SMS part" : " SMS parts");
    shown.textContent = parts + " (" + c.encoding + (c.odd ? ", because of “" + c.odd + "”" : "") + ")";
    shown.classList.toggle("over", c.segments > 3);
    shown.hidden = false;
  }
  box.addEventListener("input", say);
  // ops.js empties the box after a reply is sent, which fires no input event.
  setInterval(function () { if (box.value !== last) say(); }, 500);
  say();

  var section = document.querySelector(".canned");
  if (!section) return;
  var buttons = Array.prototype.slice.call(section.querySelectorAll(".canned-reply"));
  section.hidden = false;

  function insert(text) {
    if (box.disabled) return;
    var start = box.selectionStart, end = box.selectionEnd, before = box.value.slice(0, start);
    var lead = before && !/\s$/.test(before) ? " " : "";
    box.setRangeText(lead + text, start, end, "end");
    box.focus();
    box.dispatchEvent(new Event("input", { bubbles: true }));
  }
  buttons.forEach(function (b) {
    b.addEventListener("click", function () { insert(b.dataset.text); });
  });
  document.addEventListener("keydown", function (e) {
    if (!e.altKey || e.ctrlKey || e.metaKey) return;
    var m = /^(?:Digit|Numpad)([1-9])$/.exec(e.code);
    if (!m) return;
    var b = buttons.filter(function (x) { return x.dataset.key === m[1]; })[0];
    if (!b) return;
    e.preventDefault();
    insert(b.dataset.text);
  });
})();
