/* The queue's cards (templates/ops/_queue.html): keep "Waiting N min" current and mark, in words and colour,
   the people nobody has answered for longer than the limit (OPS_WAIT_LIMIT_MINUTES). The queue's HTML is
   swapped in when a hand-off changes, so every tick reads the cards afresh. */
(function () {
  "use strict";
  if (window.opsQueueTicking) return;  // loaded again with a swapped-in queue: one timer is enough
  window.opsQueueTicking = true;

  function waited(t) {
    var s = Math.max(0, Math.floor(Date.now() / 1000 - t));
    if (s < 60) return "under a minute";
    if (s < 3600) return Math.floor(s / 60) + " min";
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  }

  function tick() {
    document.querySelectorAll(".queue").forEach(function (list) {
      var limit = parseFloat(list.dataset.limit) || 300;
      list.querySelectorAll(".card[data-asked]").forEach(function (card) {
        var asked = parseFloat(card.dataset.asked);
        var span = card.querySelector(".wait-for");
        if (span) span.textContent = waited(asked);
        var over = card.dataset.unanswered === "1" && Date.now() / 1000 - asked > limit;
        card.classList.toggle("overdue", over);
        var label = card.querySelector(".overdue-label");
        if (label) label.hidden = !over;
      });
    });
  }

  tick();
  setInterval(tick, 10000);
})();
