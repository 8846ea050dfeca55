// Helpline console: live updates and replies without reloading.
// Every page works without this script; it only keeps pages current.
// Text from the server is always set with textContent, never as HTML.
"use strict";
(function () {
  var CHANNELS = { sms: "SMS", whatsapp: "WhatsApp", voice: "Phone call" };
  var LANGS = { en: "English", es: "Spanish" };
  var STATES = {
    "new": "New", choosing_language: "Choosing language", in_flow: "With the bot",
    handed_off: "Wants a person", closed: "Ended", opted_out: "Opted out (STOP)"
  };
  var QUEUE_KINDS = ["handoff_requested", "claimed", "unclaimed", "released", "closed", "erased", "opted_out",
                     "handoff_message", "keyword"];
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function ago(t) {
    if (!t) return "—";
    var s = Math.max(0, Math.floor(Date.now() / 1000 - t));
    if (s < 60) return "just now";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min ago";
    return Math.floor(s / 86400) + " d ago";
  }
  function refreshAgo() {
    document.querySelectorAll(".ago[data-t]").forEach(function (el) { el.textContent = ago(parseFloat(el.dataset.t)); });
  }
  setInterval(refreshAgo, 20000);

  function cell(text, cls) {
    var td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    return td;
  }

  function setDuty(d) {
    var badge = document.getElementById("duty-badge");
    if (!badge) return;
    badge.textContent = d.on ? "ON DUTY" : "OFF DUTY";
    badge.className = "duty-badge " + (d.on ? "on" : "off");
    var panel = document.querySelector(".duty-panel");
    if (panel && (panel.dataset.on !== (d.on ? "1" : "0") || panel.dataset.who !== (d.who || []).join(","))) {
      // Someone else changed it: the panel's text and button follow on the next load.
      location.reload();
    }
  }

  function connect(url, lastId, handlers, status) {
    // The server may be busy with other consoles' streams: it then sends what
    // is new and asks for a reconnect in a few seconds ("mode": polling).
    var polling = 0;
    var show = function (text, on) { if (status) { status.textContent = text; status.className = "live-state " + (on ? "on" : "off"); } };
    var es = new EventSource(url + (lastId ? "?after=" + encodeURIComponent(lastId) : ""));
    es.addEventListener("open", function () { if (!polling) show("Live", true); });
    es.addEventListener("mode", function (e) {
      polling = JSON.parse(e.data).poll;
      show(polling ? "Live (every " + polling + " s)" : "Live", true);
    });
    es.addEventListener("error", function () { if (!polling) show("Reconnecting…", false); });
    es.addEventListener("unavailable", function () { show("Storage unavailable: trying again…", false); });
    Object.keys(handlers).forEach(function (name) {
      es.addEventListener(name, function (e) { handlers[name](JSON.parse(e.data)); });
    });
    return es;
  }

  // --- the live list -------------------------------------------------------------------
  var live = document.getElementById("live");
  if (live) {
    var tbody = document.querySelector("#sessions tbody");
    var count = document.getElementById("sessions-count");
    var empty = document.getElementById("sessions-empty");
    var queueTimer = null;

    var refreshQueue = function () {
      clearTimeout(queueTimer);
      queueTimer = setTimeout(function () {
        fetch(live.dataset.queue, { headers: { Accept: "text/html" }, credentials: "same-origin" })
          .then(function (r) {
            if (r.status === 401) location.reload();  // signed out: the page goes to sign-in
            return r.ok ? r.text() : Promise.reject(r.status);
          })
          .then(function (html) { document.getElementById("queue").innerHTML = html; refreshAgo(); })
          .catch(function () {});
      }, 250);
    };

    var rowFor = function (conv) { return tbody.querySelector('tr[data-conv="' + CSS.escape(conv) + '"]'); };

    var onSession = function (d) {
      var tr = rowFor(d.conv);
      var wasHanded = tr && tr.classList.contains("st-handed_off");
      if (d.gone) {
        if (tr) tr.remove();
      } else {
        if (!tr) { tr = document.createElement("tr"); tr.dataset.conv = d.conv; }
        tr.replaceChildren(
          cell(d.masked, "masked"), cell(CHANNELS[d.ch] || d.ch), cell(LANGS[d.lang] || d.lang),
          cell((d.at || "").replace(".", " › "), "where"));
        var td = document.createElement("td");
        var badge = document.createElement("span");
        badge.className = "state st-" + d.st;
        badge.textContent = STATES[d.st] || d.st;
        td.appendChild(badge);
        tr.appendChild(td);
        var when = cell(ago(d.t), "ago");
        when.dataset.t = d.t;
        tr.appendChild(when);
        tr.className = "st-" + d.st + " fresh";
        tbody.insertBefore(tr, tbody.firstChild);  // the most recent on top
      }
      count.textContent = tbody.rows.length;
      empty.hidden = tbody.rows.length > 0;
      var kinds = d.kinds || [];
      if (d.st === "handed_off" || wasHanded || kinds.some(function (k) { return QUEUE_KINDS.indexOf(k) >= 0; })) {
        refreshQueue();
      }
    };

    connect(live.dataset.events, live.dataset.lastId, { session: onSession, duty: setDuty },
            document.getElementById("live-state"));
  }

  // --- an open hand-off ------------------------------------------------------------------
  var hand = document.getElementById("handoff");
  if (hand) {
    var transcript = document.getElementById("transcript");
    var form = document.getElementById("reply-form");
    var status = document.getElementById("reply-status");
    var ended = document.getElementById("ended");
    var pending = null;

    var clock = function (t) {
      var d = new Date(t * 1000);
      return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
    };
    var end = function () {
      ended.hidden = false;
      if (form) form.querySelectorAll("textarea, button").forEach(function (el) { el.disabled = true; });
    };
    var render = function (entries) {
      if (!transcript) return;
      var items = entries.map(function (e) {
        var li = document.createElement("li");
        if (e.who === "keyword") {
          // A word the bot answered (EMERGENCY, HELP ...): marked, with what the bot sent.
          li.className = "msg keyword";
          var head = document.createElement("span");
          head.className = "who";
          head.textContent = "⚠ Keyword · " + clock(e.t);
          var what = document.createElement("p");
          what.textContent = e.label;
          li.append(head, what);
          if (e.sent && e.sent.length) {
            var details = document.createElement("details");
            var summary = document.createElement("summary");
            summary.textContent = "What the bot sent";
            details.appendChild(summary);
            e.sent.forEach(function (m) { var p = document.createElement("p"); p.textContent = m; details.appendChild(p); });
            li.appendChild(details);
          }
          return li;
        }
        if (e.who === "note") {
          li.className = "note";
          li.textContent = e.by + (e.kind === "claim" ? " started answering at " : " put it back in the queue at ") + clock(e.t);
          return li;
        }
        li.className = "msg " + e.who + (e.status === "not confirmed" ? " unsure" : "");
        var who = document.createElement("span");
        who.className = "who";
        who.textContent = e.who === "person" ? "Them" : e.by + " · " + clock(e.t) + " · " + e.status;
        var p = document.createElement("p");
        p.textContent = e.text;
        li.append(who, p);
        return li;
      });
      if (!items.length) {
        var li = document.createElement("li");
        li.className = "note";
        li.textContent = "No messages from them since they asked for a person.";
        items.push(li);
      }
      transcript.replaceChildren.apply(transcript, items);
      transcript.scrollTop = transcript.scrollHeight;
    };
    var reload = function () {
      clearTimeout(pending);
      pending = setTimeout(function () {
        fetch(hand.dataset.entries, { headers: { Accept: "application/json" }, credentials: "same-origin" })
          .then(function (r) { return r.json(); })
          .then(function (d) {
            if (d.ended) { end(); return; }
            if (!d.mine) { location.reload(); return; }  // taken over by someone else
            render(d.entries);
          })
          .catch(function () {});
      }, 150);
    };

    connect(hand.dataset.events, hand.dataset.lastId, {
      session: function (d) {
        if (d.conv !== hand.dataset.conv) return;
        if (d.gone || (d.st && d.st !== "handed_off")) { end(); return; }
        reload();
      },
      delivery: reload,
      duty: setDuty
    });

    if (form) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var text = form.elements.text.value;
        if (!text.trim()) return;
        var button = form.querySelector("button");
        button.disabled = true;
        status.className = "reply-status";
        status.textContent = "Sending…";
        fetch(form.action, {
          method: "POST", credentials: "same-origin",
          headers: { "X-CSRFToken": csrf, Accept: "application/json" },
          body: new URLSearchParams({ text: text })
        }).then(function (r) { return r.json().then(function (d) { return { ok: r.ok, d: d }; }); })
          .then(function (res) {
            if (res.ok) {
              form.elements.text.value = "";
              status.textContent = "Sent.";
              reload();
            } else {
              status.className = "reply-status error";
              status.textContent = res.d.error || "Not sent.";
              if (res.d.maybe_sent) {
                // It may have gone out: it is in the chat, marked; never sent again by a second click.
                form.elements.text.value = "";
                reload();
              }
            }
          })
          .catch(function () { status.className = "reply-status error"; status.textContent = "Not sent: the console cannot reach the server."; })
          .finally(function () { button.disabled = false; form.elements.text.focus(); });
      });
      form.elements.text.addEventListener("keydown", function (ev) {
        // Ctrl+Enter (or Cmd+Enter) sends; Enter alone makes a new line.
        if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) form.requestSubmit();
      });
    }
    if (transcript) transcript.scrollTop = transcript.scrollHeight;
  }

  // --- the simulator: keep the newest line in view ----------------------------------------
  var simLog = document.getElementById("sim-log");
  if (simLog) simLog.scrollTop = simLog.scrollHeight;
})();
