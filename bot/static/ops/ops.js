// Helpline console: live updates and replies without reloading.
// Every page works without this script; it only keeps pages current.
// Text from the server is always set with textContent, never as HTML.
"use strict";
(function () {
  // The server's own names (base.html), so a live update reads like the page it updates.
  var names = JSON.parse((document.querySelector('meta[name="ops-names"]') || {}).content || "{}");
  var CHANNELS = names.channels || {};
  var LANGS = names.langs || {};
  var STATES = names.states || {};
  var QUEUE_KINDS = ["handoff_requested", "claimed", "unclaimed", "released", "closed", "erased", "opted_out",
                     "handoff_message", "keyword"];
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // A poll answered 401 means the sign-in is gone: reload, and the page goes to sign-in. Not
  // once a form of this page was sent (Sign out): the reload would cancel the page the form
  // leads to, and its message ("the chat went back to the queue").
  var leaving = false;
  window.addEventListener("submit", function (e) { if (!e.defaultPrevented) leaving = true; });
  function toSignIn() { if (!leaving) location.reload(); }

  // A page's own data: ``as`` "json" or "text"; a 401 goes to sign-in, any other failure rejects.
  function get(url, as) {
    var accept = as === "json" ? "application/json" : "text/html";
    return fetch(url, { headers: { Accept: accept }, credentials: "same-origin" }).then(function (r) {
      if (r.status === 401) toSignIn();
      return r.ok ? r[as]() : Promise.reject(r.status);
    });
  }

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

  // The ON DUTY badge says what the live stream last said; while the stream is
  // lost nobody can be sure, so it turns grey with a question mark. For a
  // responder it is their own duty (the line may be on for a colleague only).
  var dutyKnown = null;
  function showBadge() {
    var badge = document.getElementById("duty-badge");
    if (!badge || !dutyKnown) return;
    var who = dutyKnown.who || [];
    var mine = dutyKnown.on && (badge.dataset.responder !== "1" || dutyKnown.why === "hours" ||
                                who.indexOf(badge.dataset.me) >= 0);
    badge.textContent = mine ? "ON DUTY" : (dutyKnown.on ? "YOU: OFF DUTY" : "OFF DUTY");
    badge.className = "duty-badge " + (mine ? "on" : "off");
    if (dutyKnown.on && !mine) badge.title = "The line is on: " + who.join(", ") + " on duty";
    else badge.removeAttribute("title");
  }
  function setDuty(d) {
    dutyKnown = d;
    showBadge();
    var panel = document.querySelector(".duty-panel");
    if (panel && (panel.dataset.on !== (d.on ? "1" : "0") || panel.dataset.who !== (d.who || []).join(","))) {
      // Someone else changed it: the panel's text and button follow on the next load.
      location.reload();
    }
  }
  function connectionLost(lost) {
    var banner = document.getElementById("conn-lost");
    if (banner) banner.hidden = !lost;
    var badge = document.getElementById("duty-badge");
    if (badge && lost) {
      badge.textContent = badge.textContent.trim().replace(/\?$/, "") + "?";
      badge.className = "duty-badge unknown";
      badge.title = "Not known while the connection is lost";
    } else if (badge) {
      badge.removeAttribute("title");
    }
  }

  function connect(url, lastId, handlers, status, watched) {
    // The server may be busy with other consoles' streams: it then sends what
    // is new and asks for a reconnect in a few seconds ("mode": polling).
    // A reconnect is normal (every few minutes, or every few seconds when
    // polling), so the banner shows only when one has not come back in time.
    // watched(): the conversation of an open hand-off, if any: the server says
    // on each poll, and every few seconds of a stream, once it is no longer one.
    var polling = 0;
    var lostTimer = null;
    var storeTimer = null;
    var lastSeen = lastId;
    // Storage down: the server answers the stream with one "unavailable" event, at once,
    // and the browser comes back in 5 s. On every page, not only the Live list's status line:
    // an operator in a chat would otherwise see nothing while people's texts go unrecorded.
    var storeDown = function (down) {
      var banner = document.getElementById("store-down");
      if (banner) banner.hidden = !down;
    };
    var show = function (text, on) { if (status) { status.textContent = text; status.className = "live-state " + (on ? "on" : "off"); } };
    var open = function () {
      var query = [];
      if (lastSeen) query.push("after=" + encodeURIComponent(lastSeen));
      var conv = watched && watched();
      if (conv) query.push("conv=" + encodeURIComponent(conv));
      var es = new EventSource(url + (query.length ? "?" + query.join("&") : ""));
      es.addEventListener("open", function () {
        clearTimeout(lostTimer);
        lostTimer = null;
        connectionLost(false);
        // A stream that stays open a moment without "unavailable" means storage answers again.
        clearTimeout(storeTimer);
        storeTimer = setTimeout(function () { storeDown(false); }, 1500);
        if (!polling) show("Live", true);
      });
      es.addEventListener("mode", function (e) {
        polling = JSON.parse(e.data).poll;
        show(polling ? "Live (every " + polling + " s)" : "Live", true);
        if (polling && handlers.polled) handlers.polled();
      });
      es.addEventListener("error", function () {
        if (!polling) show("Reconnecting…", false);
        if (!lostTimer) lostTimer = setTimeout(function () { connectionLost(true); }, (polling ? polling * 1000 : 3000) + 2500);
        if (es.readyState === EventSource.CLOSED) {
          // The browser gave up (an error status, e.g. signed out): try again ourselves.
          if (handlers.closed) handlers.closed();
          setTimeout(open, 5000);
        }
      });
      es.addEventListener("unavailable", function () {
        clearTimeout(storeTimer);
        storeDown(true);
        show("Storage unavailable: trying again…", false);
      });
      Object.keys(handlers).forEach(function (name) {
        if (name === "closed" || name === "polled") return;  // ours, not events of the stream
        es.addEventListener(name, function (e) {
          if (e.lastEventId) lastSeen = e.lastEventId;
          handlers[name](JSON.parse(e.data));
        });
      });
    };
    open();
  }

  // --- alerts on every page: a sound, a desktop notification, the count in the title ----
  // Never a word or a number of the person: only that someone waits, and how many.
  var alertsBox = document.getElementById("alerts");
  var ALERT_KINDS = ["handoff_requested", "claimed", "unclaimed", "released", "closed", "erased", "opted_out"];
  var alerts = { onSession: function () {}, onClosed: function () {} };
  if (alertsBox) {
    alertsBox.hidden = false;
    var baseTitle = document.title;
    var soundButton = document.getElementById("sound-toggle");
    var askButton = document.getElementById("notify-ask");
    var notifyState = document.getElementById("notify-state");
    var audio = null;
    var lastAlert = 0;
    var waitingTimer = null;

    var soundOn = function () {
      try { return localStorage.getItem("ops.sound") !== "off"; } catch (e) { return true; }
    };
    var showSound = function () {
      var on = soundOn();
      soundButton.setAttribute("aria-pressed", on ? "true" : "false");
      soundButton.textContent = on ? "Sound on" : "Sound off";
    };
    soundButton.addEventListener("click", function () {
      try { localStorage.setItem("ops.sound", soundOn() ? "off" : "on"); } catch (e) { /* private mode: this page only */ }
      showSound();
      if (soundOn()) beep();  // what it will sound like; also lets the browser play it later
    });
    showSound();

    var audioContext = function () {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      if (!audio) audio = new Ctx();
      if (audio.state === "suspended" && audio.resume) audio.resume();
      return audio;
    };
    // Browsers let a page play sound only after the operator touched it: get ready on the first touch.
    ["pointerdown", "keydown"].forEach(function (name) {
      document.addEventListener(name, function () { if (soundOn()) audioContext(); }, { once: true });
    });
    var beep = function () {
      var ctx = audioContext();
      if (!ctx) return;
      // Two short tones, made here: no sound file to load.
      [[880, 0], [660, 0.22]].forEach(function (tone) {
        var osc = ctx.createOscillator();
        var gain = ctx.createGain();
        var start = ctx.currentTime + tone[1];
        osc.type = "sine";
        osc.frequency.value = tone[0];
        gain.gain.setValueAtTime(0.0001, start);
        gain.gain.exponentialRampToValueAtTime(0.3, start + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.2);
        osc.connect(gain);
        gain.connect(ctx.destination);
        osc.start(start);
        osc.stop(start + 0.21);
      });
    };

    var canNotify = "Notification" in window;
    var showNotify = function () {
      var p = canNotify ? Notification.permission : "unsupported";
      askButton.hidden = p !== "default";
      notifyState.hidden = p === "default";
      notifyState.textContent = p === "granted" ? "Desktop alerts on" :
        p === "denied" ? "Desktop alerts blocked by the browser" : "No desktop alerts in this browser";
    };
    askButton.addEventListener("click", function () {
      var asked = Notification.requestPermission(showNotify);
      if (asked && asked.then) asked.then(showNotify);
    });
    showNotify();
    var notify = function (title) {
      if (!canNotify || Notification.permission !== "granted") return;
      try {
        var n = new Notification(title || "Someone is waiting for a person", { tag: "helpline-waiting", renotify: true });
        n.onclick = function () { window.focus(); n.close(); };
      } catch (e) { /* some browsers allow notifications only from a service worker */ }
    };

    var showWaiting = function (n) {
      document.title = (n > 0 ? "(" + n + ") " : "") + baseTitle;
    };
    var refreshWaiting = function () {
      clearTimeout(waitingTimer);
      waitingTimer = setTimeout(function () {
        get(alertsBox.dataset.waiting, "json")
          .then(function (d) { showWaiting(d.waiting); })
          .catch(function () {});
      }, 200);
    };
    refreshWaiting();

    alerts.onSession = function (d) {
      var kinds = d.kinds || [];
      if (kinds.indexOf("handoff_requested") >= 0 && d.st === "handed_off" && Date.now() - lastAlert > 1500) {
        // A new request that waits in the queue (off duty the bot gives the numbers: nobody waits).
        lastAlert = Date.now();
        if (soundOn()) beep();
        notify();
      }
      if (d.transfer_to && d.transfer_to === alertsBox.dataset.me) {
        // A colleague handed this operator a chat: it is theirs now, not in the waiting count.
        if (soundOn()) beep();
        notify("A chat was transferred to you");
      }
      if (d.gone || kinds.some(function (k) { return ALERT_KINDS.indexOf(k) >= 0; })) refreshWaiting();
    };
    alerts.onClosed = refreshWaiting;
  }

  // wrapup.js keeps the reply being typed in this tab's sessionStorage as a chat page
  // unloads ("ops-wrapup-held:<conv>"), for the page a take-over reloads into; it is
  // of use for FRESH seconds only. Every page drops what is older, and at once what
  // belongs to a chat that has ended or was erased: nothing of it stays in the tab.
  var HELD = "ops-wrapup-held:";
  var HELD_FRESH_MS = 15000;  // wrapup.js's FRESH_MS
  var forgetHeld = function (conv) {
    try { sessionStorage.removeItem(HELD + conv); } catch (e) { /* storage refused: nothing was kept */ }
  };
  var forgetStaleHeld = function () {
    try {
      for (var i = sessionStorage.length - 1; i >= 0; i--) {
        var key = sessionStorage.key(i);
        if (!key || key.indexOf(HELD) !== 0) continue;
        var held = null;
        try { held = JSON.parse(sessionStorage.getItem(key)); } catch (e) { /* unreadable: dropped */ }
        if (!held || !(Date.now() - held.t < HELD_FRESH_MS)) sessionStorage.removeItem(key);
      }
    } catch (e) { /* storage refused: nothing was kept */ }
  };
  forgetStaleHeld();
  setInterval(forgetStaleHeld, HELD_FRESH_MS);

  // What the open page adds to the live stream (the live list, an open hand-off).
  var page = { lastId: "", session: null, delivery: null, status: null, watched: null };

  // --- the live list -------------------------------------------------------------------
  var live = document.getElementById("live");
  if (live) {
    var tbody = document.querySelector("#sessions tbody");
    var count = document.getElementById("sessions-count");
    var empty = document.getElementById("sessions-empty");
    var queueTimer = null;
    var queueAlways = false;  // a refresh asked for since the last swap must swap, whatever changed

    var convsOf = function (root) {
      return Array.prototype.map.call(root.querySelectorAll(".card[data-conv]"), function (c) { return c.dataset.conv; })
        .sort().join(" ");
    };
    // ``ifPeopleChanged``: swap only when the people in the queue differ (a poll's look):
    // a swap every few seconds would take the keyboard's focus off a card.
    var refreshQueue = function (ifPeopleChanged) {
      queueAlways = queueAlways || !ifPeopleChanged;
      clearTimeout(queueTimer);
      queueTimer = setTimeout(function () {
        var always = queueAlways;
        queueAlways = false;
        get(live.dataset.queue, "text")
          .then(function (html) {
            var queue = document.getElementById("queue");
            if (!always) {
              var fresh = document.createElement("template");
              fresh.innerHTML = html;
              if (convsOf(fresh.content) === convsOf(queue)) return;
            }
            // The keyboard stays where it was: a new card used to drop the focus on the page's
            // body, and Enter on "Answer" then did nothing.
            var focused = document.activeElement;
            var card = focused && queue.contains(focused) ? focused.closest(".card[data-conv]") : null;
            var which = card ? { conv: card.dataset.conv, label: focused.getAttribute("aria-label") || focused.textContent } : null;
            queue.innerHTML = html;
            if (which) {
              var again = queue.querySelector('.card[data-conv="' + CSS.escape(which.conv) + '"]');
              var target = again && Array.prototype.filter.call(again.querySelectorAll("a, button"), function (el) {
                return (el.getAttribute("aria-label") || el.textContent) === which.label;
              })[0];
              if (target) target.focus();
            }
            refreshAgo();
          })
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

    // A page that polls reads the stream after its last id, and a quick exit's entries
    // are dropped from it within moments, the one that says "gone" too: on each poll,
    // rows and cards of people no longer there go (their last digits, where they were
    // in the flows, the keywords they used).
    page.polled = function () {
      get(live.dataset.sessions, "json")
        .then(function (d) {
          var here = {};
          d.sessions.forEach(function (row) { here[row.conv] = true; });
          Array.prototype.slice.call(tbody.rows).forEach(function (tr) {
            if (!here[tr.dataset.conv]) tr.remove();
          });
          count.textContent = tbody.rows.length;
          empty.hidden = tbody.rows.length > 0;
        })
        .catch(function () {});
      refreshQueue(true);
    };

    page.lastId = live.dataset.lastId;
    page.session = onSession;
    page.status = document.getElementById("live-state");
  }

  // --- an open hand-off ------------------------------------------------------------------
  var hand = document.getElementById("handoff");
  if (hand) {
    var transcript = document.getElementById("transcript");
    var form = document.getElementById("reply-form");
    var status = document.getElementById("reply-status");
    var ended = document.getElementById("ended");
    var pending = null;

    // Times in the operators' time zone (OPS_TIMEZONE, on <body data-tz>), as the server writes
    // them: the browser's own zone made the same line read 16:12, then 04:12 once refreshed,
    // and a WhatsApp deadline hours off.
    var zone = document.body.dataset.tz || "UTC";
    var parts = function (t) {
      var out = {};
      new Intl.DateTimeFormat("en-GB", {
        timeZone: zone, weekday: "short", day: "numeric", month: "short", year: "numeric",
        hour: "2-digit", minute: "2-digit", hourCycle: "h23"
      }).formatToParts(new Date(t * 1000)).forEach(function (p) { out[p.type] = p.value; });
      return out;
    };
    var clock = function (t) {
      var p = parts(t);
      return p.hour + ":" + p.minute;
    };
    // A message's time; its day too when not today (as the server's "stamp" filter).
    var stamp = function (t) {
      var p = parts(t), today = parts(Date.now() / 1000);
      if (p.day === today.day && p.month === today.month && p.year === today.year) return clock(t);
      return p.weekday + " " + p.day + " " + p.month + " " + clock(t);
    };
    // How the hand-off ended, in the banner's words (a session's new state, or why it is gone).
    var ENDS = {
      erased: "They erased this chat (SALIR). Nothing of it is kept.",
      gone: "This chat was erased (SALIR), or it expired. Nothing of it is kept.",
      closed: "This chat was ended.",
      opted_out: "They stopped messages (STOP).",
      back: "They went back to the bot (MENU), or the chat was handed back to the bot."
    };
    // The status line once the chat is over: not what a refused Send said (advice for a chat
    // that is still there), only whether the last reply may have gone out.
    var endedStatus = function () {
      if (!status) return;
      status.className = "reply-status";
      status.textContent = status.dataset.unsure ? "Your last reply may have reached them before the chat ended." : "";
    };
    // The hand-off is over, however the page learnt it (the live stream, a poll, entries.json,
    // a refused Send): nothing of the person stays on the page or in the tab. Their words,
    // what the bot knows, the reply and notes being typed go; the reply box is disabled; one
    // banner says what happened. Only the masked number in the heading stays.
    var finish = function (why) {
      clearTimeout(pending);
      if (hand.dataset.ended) return;
      hand.dataset.ended = why;  // wrapup.js keeps no draft of an ended chat
      forgetHeld(hand.dataset.conv);
      var gone = why === "erased" || why === "gone";
      if (transcript) {
        var li = document.createElement("li");
        li.className = "note";
        li.textContent = gone ? "Their messages were erased." : "This chat has ended: its messages are no longer kept.";
        transcript.replaceChildren(li);
      }
      hand.querySelectorAll(".context-panel, #window, .claim-box, .end-actions").forEach(function (el) { el.remove(); });
      hand.querySelectorAll("textarea, input:not([type=hidden])").forEach(function (el) { el.value = ""; el.disabled = true; });
      if (form) form.querySelectorAll("button").forEach(function (el) { el.disabled = true; });
      endedStatus();
      ended.querySelector(".why").textContent = ENDS[why] || (why === "ended" ? "This hand-off has ended." : ENDS.back);
      ended.hidden = false;
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
          // The same words as the page's own (templates/ops/_wrapup_note_line.html).
          if (e.kind === "claim" && e.transferred) {
            li.textContent = e.from + " handed this chat to " + e.by + " at " + clock(e.t) +
              (e.note ? ". Hand-over note (internal): \u201c" + e.note + "\u201d" : "");
          } else if (e.kind === "claim" && e.from) {
            li.textContent = e.by + " took over from " + e.from + " at " + clock(e.t);
          } else if (e.kind === "still_waiting") {
            li.textContent = e.failed
              ? "Waiting too long: at " + clock(e.t) + " the bot could not send them the hotline numbers (Twilio refused)"
              : "Waiting too long: at " + clock(e.t) + " the bot told them nobody was free yet and sent the hotline numbers; they stay in line";
          } else {
            li.textContent = e.by + (e.kind === "claim" ? " started answering at " : " put it back in the queue at ") + clock(e.t);
          }
          return li;
        }
        li.className = "msg " + e.who + (e.status === "not confirmed" ? " unsure" : "");
        var who = document.createElement("span");
        who.className = "who";
        // The same words as the page's own (templates/ops/handoff.html).
        who.textContent = e.who === "person"
          ? "Them" + (e.t ? " · " + stamp(e.t) : "") + (e.near ? " · ⚠ someone may be near them: wait for them to write" : "")
          : e.by + " · " + clock(e.t) + " · " + e.status;
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
        if (hand.dataset.ended) return;
        fetch(hand.dataset.entries, { headers: { Accept: "application/json" }, credentials: "same-origin" })
          .then(function (r) { return r.status === 404 || r.status === 410 ? { ended: true, why: "gone" } : r.json(); })
          .then(function (d) {
            if (hand.dataset.ended) return;
            if (d.ended) { finish(d.why || "ended"); return; }
            if (!d.mine) { location.reload(); return; }  // taken over by someone else
            render(d.entries);
          })
          .catch(function () {});
      }, 150);
    };

    page.lastId = hand.dataset.lastId;
    page.session = function (d) {
      if (d.conv !== hand.dataset.conv) return;
      if (d.gone) { finish((d.kinds || []).indexOf("erased") >= 0 ? "erased" : "gone"); return; }
      if (d.st && d.st !== "handed_off") { finish(d.st); return; }
      reload();
    };
    page.delivery = reload;
    page.watched = function () { return hand.dataset.ended ? "" : hand.dataset.conv; };
    // Back to this page from the browser's memory: look before showing it as it was.
    window.addEventListener("pageshow", function (e) { if (e.persisted) reload(); });

    if (form) {
      // The Send button itself: the ready replies are buttons of the form too, before it.
      var sendButton = form.querySelector('button[type="submit"]');
      var sending = false;
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var text = form.elements.text.value;
        // One reply at a time: a second Ctrl+Enter or click while it is on its way
        // sent the person the same text twice.
        if (!text.trim() || sending) return;
        sending = true;
        var button = sendButton;
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
              delete status.dataset.unsure;
              reload();
            } else {
              if (res.d.maybe_sent) status.dataset.unsure = "1";
              if (res.d.ended || hand.dataset.ended) { finish(res.d.ended || "ended"); endedStatus(); return; }
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
          .finally(function () {
            sending = false;
            if (!hand.dataset.ended) { button.disabled = false; form.elements.text.focus(); }
          });
      });
      form.elements.text.addEventListener("keydown", function (ev) {
        // Ctrl+Enter (or Cmd+Enter) sends; Enter alone makes a new line.
        if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) form.requestSubmit();
      });
    }
    if (transcript) transcript.scrollTop = transcript.scrollHeight;
    // Answering lands in the reply box: the operator types at once.
    var replyBox = document.getElementById("reply-text");
    if (replyBox && !replyBox.disabled) replyBox.focus();
  }

  // --- the simulator: keep the newest line in view ----------------------------------------
  var simLog = document.getElementById("sim-log");
  if (simLog) simLog.scrollTop = simLog.scrollHeight;
  // Each message reloads the page: the next one is typed without reaching for the mouse.
  var simText = document.getElementById("sim-text");
  if (simText) simText.focus();

  // --- one live stream per page: the page's own updates, the alerts and the duty badge ----
  if (alertsBox) {
    connect(alertsBox.dataset.events, page.lastId, {
      session: function (d) {
        if (d.gone || (d.st && d.st !== "handed_off")) forgetHeld(d.conv);
        if (page.session) page.session(d);
        alerts.onSession(d);
      },
      delivery: function (d) { if (page.delivery) page.delivery(d); },
      duty: setDuty,
      closed: alerts.onClosed,
      polled: function () { if (page.polled) page.polled(); }
    }, page.status, function () { return page.watched ? page.watched() : ""; });
  }
})();
