// Take-over on the page of the responder who was answering (issue 19).
//
// When a colleague takes over, ops.js reloads this page (the chat is no longer
// ours). What the responder had half typed would be lost with the reload, and
// nothing would say why the chat changed. So: while the chat is ours, the reply
// box's text is kept in this tab's sessionStorage as the page unloads (only for
// a few seconds: it is read back by the reload, then dropped); after the reload
// the page says "<name> took over this chat" and shows the text, read-only, to copy.
// sessionStorage is this tab's alone and goes when the tab closes; nothing is sent anywhere.
// Every console page (ops.js) drops such a draft once FRESH_MS old, or at once when its chat
// has ended or was erased.
(function () {
  "use strict";
  var hand = document.getElementById("handoff");
  if (!hand) return;
  var KEY = "ops-wrapup-held:" + hand.dataset.conv;
  var FRESH_MS = 15000;  // only a reload right after leaving the page counts as "taken over"
  var box = document.getElementById("reply-text");
  var submitting = false;

  if (box) {  // the chat is ours
    sessionStorage.removeItem(KEY);
    // A form that leaves the page (end, hand back, put back), seen as it bubbles up: the reply
    // form sends in the page (its handler prevents the default), and counted as leaving it made
    // the draft of every later reply lost when a colleague took over after one was sent.
    window.addEventListener("submit", function (e) { if (!e.defaultPrevented) submitting = true; });
    window.addEventListener("pagehide", function () {
      if (submitting) return;  // ending, handing back, putting back: nothing was taken from us
      if (hand.dataset.ended) return;  // ended or erased while open (ops.js): nothing of it is kept
      sessionStorage.setItem(KEY, JSON.stringify({ t: Date.now(), text: box.value }));
    });
    return;
  }

  var raw = sessionStorage.getItem(KEY);
  sessionStorage.removeItem(KEY);
  var taken = document.getElementById("taken-over");
  if (!raw || !taken) return;
  var held;
  try { held = JSON.parse(raw); } catch (e) { return; }
  if (!held || Date.now() - held.t > FRESH_MS || !taken.dataset.holder) return;
  taken.querySelector(".who").textContent = taken.dataset.holder;
  if (held.text && held.text.trim()) {
    var kept = document.getElementById("kept-reply");
    kept.value = held.text;
    kept.closest(".kept").hidden = false;
  }
  taken.hidden = false;
  taken.focus();
})();
