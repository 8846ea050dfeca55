// Helpline console: the flow editor and the flow map.
// The editor page works without this script (Check and save reloads the page);
// with it, the draft is checked as you type and problems move the cursor to their line.
// Text from the server is always set with textContent, never as HTML.
"use strict";
(function () {
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var STATE_LABELS = {
    missing: "needs a translation", fuzzy: "the English changed: check it",
    changed: "changed in your draft", ok: ""
  };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // --- the editor ------------------------------------------------------------------------
  var form = document.getElementById("editor");
  var yaml = document.getElementById("yaml");
  if (form && yaml) {
    var gutter = document.getElementById("gutter");
    var problemsList = document.getElementById("problems");
    var status = document.getElementById("check-status");
    var count = document.getElementById("problem-count");
    var texts = document.getElementById("texts");
    var needsCount = document.getElementById("needs-count");
    var editable = form.dataset.editable === "1";
    var checkUrl = form.dataset.check;
    var lineCount = 0;
    var badLines = {};

    var drawGutter = function () {
      var n = yaml.value.split("\n").length;
      if (yaml.value.endsWith("\n")) n -= 1;
      n = Math.max(1, n);
      if (n === lineCount && !drawGutter.dirty) return;
      lineCount = n;
      drawGutter.dirty = false;
      var frag = document.createDocumentFragment();
      for (var i = 1; i <= n; i++) {
        var s = el("span", badLines[i] ? "bad" : "", String(i));
        frag.appendChild(s);
      }
      gutter.replaceChildren(frag);
      gutter.scrollTop = yaml.scrollTop;
    };
    yaml.addEventListener("scroll", function () { gutter.scrollTop = yaml.scrollTop; });

    var goLine = function (n) {
      var lines = yaml.value.split("\n");
      n = Math.max(1, Math.min(n, lines.length));
      var start = 0;
      for (var i = 0; i < n - 1; i++) start += lines[i].length + 1;
      var end = start + lines[n - 1].length;
      yaml.focus();
      yaml.setSelectionRange(start, end);
      var lh = parseFloat(getComputedStyle(yaml).lineHeight) || 22;
      yaml.scrollTop = Math.max(0, (n - 1) * lh - yaml.clientHeight / 3);
      gutter.scrollTop = yaml.scrollTop;
    };

    var bindProblemLinks = function () {
      problemsList.querySelectorAll("a[data-line]").forEach(function (a) {
        a.addEventListener("click", function (ev) {
          ev.preventDefault();
          goLine(parseInt(a.dataset.line, 10));
        });
      });
    };

    var renderProblems = function (d) {
      badLines = {};
      var items = d.problems.map(function (p) {
        var li = el("li", p.severity + (p.here ? " here" : ""));
        if (p.href) {
          var a = el("a", "", p.text);
          a.href = p.href;
          if (p.here) { a.dataset.line = p.line; if (p.severity === "error") badLines[p.line] = true; }
          li.appendChild(a);
        } else {
          li.textContent = p.text;
        }
        return li;
      });
      problemsList.replaceChildren.apply(problemsList, items);
      bindProblemLinks();
      count.textContent = d.errors;
      count.className = "count" + (d.errors ? " alert" : "");
      status.className = "check-status " + (d.ok ? "ok" : "bad");
      status.textContent = d.ok
        ? (d.draft.empty ? "No problems." : "No problems: try your draft in the simulator, then publish it.")
        : d.errors + " problem" + (d.errors === 1 ? "" : "s") + " to fix before publishing.";
      drawGutter.dirty = true;
      drawGutter();
      var canGo = d.ok && !d.draft.empty;
      ["publish-btn", "try-btn"].forEach(function (id) {
        var b = document.getElementById(id);
        if (b) b.disabled = !canGo;
      });
      var summary = document.getElementById("draft-summary");
      if (summary) {
        summary.textContent = d.draft.empty ? "Your draft is empty: nothing to publish yet."
          : "Publishing writes your whole draft (" + d.draft.files.join(", ")
            + (d.draft.translations ? (d.draft.files.length ? ", and " : "") + d.draft.translations + " translation" + (d.draft.translations === 1 ? "" : "s") : "")
            + ") and every worker serves it within seconds. Each publish is recorded and can be rolled back.";
      }
      var mineToo = d.draft.files.indexOf(form.dataset.name) >= 0;
      var badge = document.getElementById("draft-badge");
      if (!badge && mineToo) {
        badge = el("span", "draft-badge", "your draft, not published");
        badge.id = "draft-badge";
        document.querySelector("h1").appendChild(badge);
      }
      if (badge) badge.hidden = !mineToo;
    };

    // --- translations: keep what is being typed, add and remove rows as the English changes
    var nextIndex = texts ? parseInt(texts.dataset.next || "0", 10) : 0;
    var rowOf = function (msgid) {
      var found = null;
      if (!texts) return null;
      texts.querySelectorAll(":scope > li.text-row").forEach(function (li) { if (li.dataset.msgid === msgid) found = li; });
      return found;
    };
    var rows = function (value) {
      return Math.max(2, (value.match(/\n/g) || []).length + 1);
    };
    var q = function (t) { return "\u201c" + t + "\u201d"; };
    var hintFor = function (h, langName) {
      var p = el("p", "tr-hint");
      p.appendChild(document.createTextNode(
        h.kind === "mine" ? "You translated an earlier wording, " + q(h.en) + ", as " + q(h.tr) + ". "
        : h.kind === "before" ? "Before your change this text was " + q(h.en) + ", in " + langName + " " + q(h.tr) + ". "
        : "A similar text, " + q(h.en) + ", is translated as " + q(h.tr) + ". "));
      var b = el("button", "link use-hint", "Use it as a start");
      b.type = "button";
      b.dataset.text = h.tr;
      p.appendChild(b);
      return p;
    };
    var buildRow = function (row) {
      var i = nextIndex++;
      var li = el("li", "text-row" + (row.needs ? " needs" : ""));
      li.dataset.msgid = row.msgid;
      var hidden = el("input");
      hidden.type = "hidden";
      hidden.name = "msgid." + i;
      hidden.value = row.msgid;
      li.appendChild(hidden);
      var en = el("div", "en");
      en.appendChild(el("span", "lines", "English \u00b7 line " + row.lines.join(", ")));
      var p = el("p", "", row.msgid);
      p.lang = "en";
      en.appendChild(p);
      li.appendChild(en);
      row.langs.forEach(function (l) {
        var div = el("div", "tr");
        div.dataset.lang = l.lang;
        var label = el("label", "", l.name + " ");
        label.htmlFor = "tr-" + l.lang + "-" + i;
        label.appendChild(el("span", "tr-state " + l.state, STATE_LABELS[l.state]));
        var ta = el("textarea");
        ta.id = "tr-" + l.lang + "-" + i;
        ta.name = "tr." + l.lang + "." + i;
        ta.lang = l.lang;
        ta.value = l.value;
        ta.rows = rows(l.value || row.msgid);
        div.append(label, ta);
        if (l.hint) div.appendChild(hintFor(l.hint, l.name));
        li.appendChild(div);
      });
      return li;
    };
    var updateRow = function (li, row) {
      li.classList.toggle("needs", row.needs);
      li.querySelector(".lines").textContent = "English \u00b7 line " + row.lines.join(", ");
      row.langs.forEach(function (l) {
        var div = li.querySelector('.tr[data-lang="' + CSS.escape(l.lang) + '"]');
        if (!div) return;
        var state = div.querySelector(".tr-state");
        state.className = "tr-state " + l.state;
        state.textContent = STATE_LABELS[l.state];
        var ta = div.querySelector("textarea");
        if (document.activeElement !== ta && ta.value !== l.value && (l.state === "ok")) ta.value = l.value;
        var old = div.querySelector(".tr-hint");
        if (old) old.remove();
        if (l.hint) div.appendChild(hintFor(l.hint, l.name));
      });
    };
    var renderTexts = function (list) {
      if (!texts) return;
      var keep = {};
      var ordered = list.map(function (row) {
        var li = rowOf(row.msgid);
        if (li) updateRow(li, row); else li = buildRow(row);
        keep[row.msgid] = true;
        return li;
      });
      texts.querySelectorAll(":scope > li.text-row").forEach(function (li) {
        var typing = li.contains(document.activeElement);
        if (!keep[li.dataset.msgid] && !typing) li.remove();
      });
      // In the file's order, without moving the row being typed in.
      ordered.forEach(function (li) {
        if (li.contains(document.activeElement) && li.parentNode === texts) return;
        texts.appendChild(li);
      });
      var needs = list.filter(function (r) { return r.needs; }).length;
      if (needsCount) { needsCount.textContent = needs; needsCount.className = "count" + (needs ? " alert" : ""); }
      var none = document.getElementById("no-texts");
      if (none) none.hidden = list.length > 0;
      applyFilter();
    };

    var onlyNeeds = document.getElementById("only-needs");
    var applyFilter = function () {
      if (!texts || !onlyNeeds) return;
      texts.querySelectorAll(":scope > li.text-row").forEach(function (li) {
        li.hidden = onlyNeeds.checked && !li.classList.contains("needs") && !li.contains(document.activeElement);
      });
    };
    if (onlyNeeds) onlyNeeds.addEventListener("change", applyFilter);

    // --- checking as they type -----------------------------------------------------------------
    var timer = null;
    var seq = 0;
    var TOO_LARGE = "Not checked: that is more than the console takes at once (1 MB), so nothing of it was saved. " +
      "A flow file may hold at most 128 KB: shorten it, or split it into two flows.";
    var inflight = null;
    var check = function () {
      clearTimeout(timer);
      timer = null;
      var mine = ++seq;
      status.className = "check-status busy";
      status.textContent = "Checking\u2026";
      var body = new URLSearchParams(new FormData(form));
      body.delete("csrf_token");
      inflight = fetch(checkUrl, {
        method: "POST", credentials: "same-origin",
        headers: { "X-CSRFToken": csrf, Accept: "application/json" }, body: body
      }).then(function (r) {
        if (r.status === 401) { location.reload(); return null; }
        return r.json().then(function (d) { return { ok: r.ok, d: d }; }, function (notJson) {
          // Too big, said by a proxy's own page, not the console's JSON (nginx refuses a body over
          // its client_max_body_size before the console sees it): the server is there all the same.
          if (r.status === 413) return { ok: false, d: { error: TOO_LARGE } };
          throw notJson;
        });
      }).then(function (res) {
        if (!res || mine !== seq) return;
        if (!res.ok) { status.className = "check-status bad"; status.textContent = res.d.error || "The check failed."; return; }
        renderProblems(res.d);
        renderTexts(res.d.texts);
      }).catch(function () {
        if (mine !== seq) return;
        status.className = "check-status bad";
        status.textContent = "Not checked: the console cannot reach the server. Your last change is not saved.";
      }).finally(function () { if (mine === seq) inflight = null; });
      return inflight;
    };
    var schedule = function () {
      clearTimeout(timer);
      timer = setTimeout(check, 500);
      status.className = "check-status busy";
      status.textContent = "Typing\u2026";
    };
    var flush = function () {
      // Before leaving for the simulator or publishing: the last keystrokes are saved first.
      if (timer) return check();
      return inflight || Promise.resolve();
    };

    if (editable && checkUrl) {
      yaml.addEventListener("input", function () { drawGutter(); schedule(); });
      form.addEventListener("input", function (ev) { if (ev.target !== yaml && ev.target.tagName === "TEXTAREA") schedule(); });
      form.addEventListener("click", function (ev) {
        var b = ev.target.closest(".use-hint");
        if (!b) return;
        var ta = b.closest(".tr").querySelector("textarea");
        ta.value = b.dataset.text;
        ta.rows = rows(ta.value);
        ta.focus();
        schedule();
      });
      form.addEventListener("submit", function (ev) { ev.preventDefault(); check(); });
      ["publish-btn", "try-btn"].forEach(function (id) {
        var b = document.getElementById(id);
        if (!b) return;
        b.form.addEventListener("submit", function (ev) {
          if (b.form.dataset.flushed || (!timer && !inflight)) return;  // nothing typed since the last check
          ev.preventDefault();
          flush().then(function () {
            if (b.disabled) return;  // the check found problems
            b.form.dataset.flushed = "1";
            // Not from within this submit event: a form ignores requestSubmit while it is firing one.
            setTimeout(function () { b.form.requestSubmit(b); }, 0);
          });
        });
      });
      // Tab indents (YAML wants spaces); Esc then Tab leaves the box as usual.
      var escaped = false;
      yaml.addEventListener("keydown", function (ev) {
        if (ev.key === "Escape") { escaped = true; return; }
        if (ev.key === "Tab" && !escaped && !ev.shiftKey && !ev.ctrlKey && !ev.altKey && !ev.metaKey) {
          ev.preventDefault();
          var s = yaml.selectionStart, e = yaml.selectionEnd;
          yaml.setRangeText("  ", s, e, "end");
          drawGutter();
          schedule();
          return;
        }
        escaped = false;
      });
      var save = document.getElementById("save-btn");
      if (save) save.textContent = "Check now";
    }
    bindProblemLinks();
    drawGutter();
    var m = /^#line=(\d+)$/.exec(location.hash);
    if (m) goLine(parseInt(m[1], 10));
  }

  var other = document.getElementById("other");
  if (other) other.addEventListener("change", function () { if (other.value) location.href = other.value; });

  // The map opens at a size its words can be read at: fitted to the page's
  // width when that leaves them readable (at least 0.6 of Mermaid's size),
  // else at 0.6, scrolled to its first step (a big flow drawn at its own
  // size was a white box with a speck of a chart in one corner). Larger and
  // Smaller zoom it; Fit to the page shows it whole. Width and height are
  // both set from its viewBox: left to the flex box, the height was squeezed.
  function sizeTheMap(svg) {
    var vb = svg.viewBox && svg.viewBox.baseVal;
    var natural = vb && vb.width || svg.getBBox().width;
    var tall = vb && vb.height || svg.getBBox().height;
    var fitBtn = document.getElementById("map-fit");
    var inBtn = document.getElementById("map-zoom-in");
    var outBtn = document.getElementById("map-zoom-out");
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    svg.style.maxWidth = "none";
    var READABLE = 0.6;
    var scale = 1, fitted = false;
    function room() {
      var cs = getComputedStyle(map);
      return map.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    }
    function fitScale() { return Math.min(1.5, room() / natural); }
    function draw() {
      if (fitted) scale = fitScale();
      svg.style.width = Math.round(natural * scale) + "px";
      svg.style.height = Math.round(tall * scale) + "px";
      fitBtn.setAttribute("aria-pressed", fitted ? "true" : "false");
      map.classList.toggle("fit", fitted);
    }
    function zoom(by) {
      fitted = false;
      scale = Math.max(0.2, Math.min(3, scale * by));
      draw();
    }
    function toTheFirstStep() {
      var first = null;
      svg.querySelectorAll("g.node").forEach(function (n) {
        var r = n.getBoundingClientRect();
        if (!first || r.top < first.top) first = r;
      });
      if (first) map.scrollLeft += first.left + first.width / 2 - map.getBoundingClientRect().left - map.clientWidth / 2;
    }
    [fitBtn, inBtn, outBtn].forEach(function (b) { if (b) b.hidden = false; });
    inBtn.addEventListener("click", function () { zoom(1.25); });
    outBtn.addEventListener("click", function () { zoom(0.8); });
    fitBtn.addEventListener("click", function () { fitted = true; draw(); });
    window.addEventListener("resize", function () { if (fitted) draw(); });
    scale = Math.max(READABLE, fitScale());
    draw();
    toTheFirstStep();
  }

  // --- a flow's map, drawn by Mermaid (kept in the repository: bot/static/vendor/mermaid) --------
  var map = document.getElementById("map");
  if (map && window.mermaid) {
    var source = document.getElementById("map-source").textContent;
    window.mermaid.initialize({
      startOnLoad: false, securityLevel: "strict", theme: "default",
      flowchart: { htmlLabels: true, useMaxWidth: false, curve: "basis" }
    });
    window.mermaid.render("map-svg", source).then(function (out) {
      map.innerHTML = out.svg;  // Mermaid's own sanitised SVG (securityLevel strict)
      map.dataset.drawn = "1";
      var svg = map.querySelector("svg");
      if (svg) sizeTheMap(svg);
    }).catch(function (err) {
      map.replaceChildren(el("p", "flash error", "The map could not be drawn: " + (err && err.message || err)));
    });
  }
})();
