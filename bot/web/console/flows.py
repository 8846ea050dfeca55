"""The console's content pages: flows, their map, translations, reviews; editing for editors.

Everyone signed in may read: the list of flow files and what is live
(``/ops/flows``), each file (``/ops/flows/file/<name>``), a flow's map with
how often each step was shown (``/ops/flows/map/<flow>``), the history of
changes with their diffs (``/ops/flows/history``), the texts not yet
translated (``/ops/translations``) and what is due for review
(``/ops/reviews``).

Editors (role ``editor``) also change them. The editor page posts the YAML
and the translations typed beside it to ``.../check`` as they type (the
script waits for a pause); the server keeps them as the editor's draft and
answers with every problem of the whole set as it would be published
(``path:line: message``) and the state of each text's translations. Without
the script, *Check and save* does the same with a page load. *Try in the
simulator* runs the draft (``simulator.py``); *Publish* writes it and makes
every worker serve it; the history page rolls back. The work is done by
:mod:`bot.flow_editing`.
"""
from __future__ import annotations

import datetime as dt
import difflib
import logging
import os
import re

from flask import (abort, current_app, flash, jsonify, redirect, render_template, request, send_from_directory,
                   url_for)
from flask_login import current_user

from ... import i18n
from ...engine.problems import ERROR, Problem, language_label, short_text
from ...engine.translations import (EMPTY, FUZZY, HIDDEN, MISSING, NO_CATALOG, OUTDATED, PLACEHOLDERS, UNREADABLE,
                                   language_name)
from ...engine.validate import REVIEW_DAYS, reviews as review_list
from ...engine.yamlsource import YamlSyntaxError
from ...flow_editing import Checked, Draft, FlowEditor, Paths, Refused, TooLarge, mark_reviewed, unified_diff
from ...graph import mermaid
from .accounts import editor_required
from .blueprint import bp, console, local_time, served_flows
from .figures import figures_of, period_asked

log = logging.getLogger(__name__)

VENDOR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "static", "vendor")
MAP_PRESETS = [("7 days", 7), ("30 days", 30), ("90 days", 90)]


def admin() -> FlowEditor:
    return console().flows


def _editor() -> str | None:
    """The signed-in editor's name (their draft is shown), or None for everyone else."""
    return current_user.name if current_user.can_edit else None


# --- how problems and texts are shown ------------------------------------------------------------

def console_message(p: Problem, in_flow_file: bool) -> str:
    """What the console says of ``p``: its words, but where the console has its own
    place for what the check sends staff elsewhere for. Worded from the problem's
    code and data, never from its text.

    The checks send staff to the catalog line to translate a text; in the console
    the translation is typed beside the text, on the file's page. A conversation
    test's failure is listed among every other problem, so it names its test.
    """
    d = p.data
    if in_flow_file and p.code in ("missing-translation", "fuzzy-translation"):
        said = f"missing {language_label(d['lang'])} translation of \"{short_text(d['msgid'])}\""
        if p.code == "fuzzy-translation":
            said += " (the English is new or changed)"
        return f"{said}: write it under Translations, on this file's page"
    if p.code in ("test-answer-lacks", "test-answer-has"):
        return f"conversation test \"{d['test']}\": {p.message}"
    return p.message


def problem_view(p: Problem, name: str | None) -> dict:
    paths = admin().paths
    rel = paths.rel(p.path) if p.path else ""
    flows_rel = paths.rel(paths.flows_dir)
    file_name = rel[len(flows_rel) + 1:] if rel.startswith(flows_rel + "/") else None
    message = console_message(p, file_name is not None)
    return {
        "code": p.code, "path": rel, "line": p.line, "message": message, "severity": p.severity,
        "text": f"{rel}:{p.line}: {'warning: ' if p.severity != ERROR else ''}{message}",
        "here": file_name is not None and file_name == name,
        "href": url_for("ops.flow_file", name=file_name, _anchor=f"line={p.line}") if file_name else None,
    }


def _replaced(name: str, texts: list[tuple[int, str]]) -> dict[str, str]:
    """New English -> the English that was at its place in the file as published (by order in the file)."""
    on_disk = admin().paths.read(name)
    if on_disk is None:
        return {}
    try:
        old = [msgid for _, msgid in i18n.iter_flow_texts(on_disk, name)]
    except Exception:  # noqa: BLE001 - the published file always parses; be safe anyway
        return {}
    new = [msgid for _, msgid in texts]
    pairs = {}
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "replace":
            for k in range(min(i2 - i1, j2 - j1)):
                pairs.setdefault(new[j1 + k], old[i1 + k])
    return pairs


def text_rows(checked: Checked, name: str, draft: Draft) -> list[dict]:
    """Every text of file ``name`` with its translation in each language, as the draft would publish it.

    A text that needs a translation comes with a hint to start from: the translation of the
    text that was at its place before the edit, else the editor's translation of an earlier
    wording of it, else the one of a similar text Babel found (what `translations update` marks fuzzy).
    """
    used = {msgid for texts in checked.texts.values() for _, msgid in texts}
    replaced = _replaced(name, checked.texts.get(name, []))
    published = admin().catalog_strings() if replaced else {}
    rows: dict[str, dict] = {}
    for line, msgid in checked.texts.get(name, []):
        if msgid in rows:
            rows[msgid]["lines"].append(line)
            continue
        row = {"msgid": msgid, "lines": [line], "langs": []}
        for lang, language in checked.translations.items():
            t = language.texts[msgid]
            mine = (draft.tr.get(lang) or {}).get(msgid)
            hint = None
            if t.state in (MISSING, EMPTY, FUZZY, OUTDATED):
                state, value = ("fuzzy" if t.fuzzy else "missing"), mine or ""
                stale = [k for k in (draft.tr.get(lang) or {}) if k not in used]
                close = difflib.get_close_matches(msgid, stale, n=1, cutoff=0.5)
                before = replaced.get(msgid)
                was = published.get(lang, {}).get(before) if before else None
                if close:
                    hint = {"kind": "mine", "en": close[0], "tr": draft.tr[lang][close[0]]}
                elif was and was[0] and not was[1]:
                    hint = {"kind": "before", "en": before, "tr": was[0]}
                elif t.fuzzy and t.previous and t.msgstr:  # Babel's guess: the translation of a similar text
                    hint = {"kind": "similar", "en": t.previous, "tr": t.msgstr}
            else:
                state, value = ("changed" if mine is not None else "ok"), t.msgstr
            row["langs"].append({"lang": lang, "name": language.name,
                                 "state": state, "value": value, "hint": hint})
        row["needs"] = any(x["state"] in ("missing", "fuzzy") for x in row["langs"])
        rows[msgid] = row
    return list(rows.values())


def draft_summary(draft: Draft) -> dict:
    return {"files": sorted(draft.files), "translations": draft.translations(), "empty": draft.empty}


def check_state(checked: Checked, name: str | None, draft: Draft) -> dict:
    problems = [problem_view(p, name) for p in checked.problems]
    return {
        "ok": checked.ok,
        "errors": sum(1 for p in problems if p["severity"] == ERROR),
        "warnings": sum(1 for p in problems if p["severity"] != ERROR),
        "problems": problems,
        "texts": text_rows(checked, name, draft) if name else [],
        "draft": draft_summary(draft),
        "changes": sorted(checked.changes),
    }


def _form_draft() -> tuple[str | None, dict[str, dict[str, str]]]:
    """The YAML (``text``) and the translations typed (``msgid.<i>`` with ``tr.<lang>.<i>``)."""
    form = request.form
    text = form.get("text")
    msgids = {key.split(".", 1)[1]: value for key, value in form.items() if key.startswith("msgid.")}
    tr: dict[str, dict[str, str]] = {}
    for key, value in form.items():
        if key.startswith("tr."):
            lang, _, index = key[3:].rpartition(".")
            if index in msgids and re.fullmatch(r"[A-Za-z_@]{2,16}", lang):
                tr.setdefault(lang, {})[msgids[index]] = value
    return text, tr


def _file_or_404(name: str) -> str:
    paths = admin().paths
    try:
        path = paths.flow_path(name)
    except Refused:
        abort(404)
    if not os.path.isfile(path):
        abort(404)
    return name


def _flow_of(name: str):
    """The flow defined in file ``name``, if it is a flow file of the live set."""
    fs = served_flows()
    if fs is None:
        return None
    for flow in fs.flows.values():
        if os.path.basename(flow.where.path) == name:
            return flow
    return None


@bp.app_template_filter("datetime")
def _datetime(t) -> str:
    """A time as the console's days are counted (OPS_TIMEZONE): 22 Nov 2026, 14:05."""
    try:
        t = float(t)
    except (TypeError, ValueError):
        return ""
    return local_time(t).strftime("%d %b %Y, %H:%M")


# --- reading -----------------------------------------------------------------------------------


@bp.get("/flows")
def flows():
    a = admin()
    user = _editor()
    draft = a.drafts.get(user) if user else Draft()
    checked = a.check(user or "", draft)
    fs = served_flows()
    titles = {}
    if fs is not None:
        for flow in fs.flows.values():
            titles[os.path.basename(flow.where.path)] = (flow.id, flow.title, len(flow.nodes))
    files = []
    flows_rel = a.paths.rel(a.paths.flows_dir)
    for name in a.paths.editable():
        flow = titles.get(name)
        files.append({"name": name, "flow": flow[0] if flow else None, "title": flow[1] if flow else _special(name),
                      "nodes": flow[2] if flow else None, "in_draft": name in draft.files,
                      "problems": sum(1 for p in checked.problems
                                      if p.severity == ERROR and a.paths.rel(p.path) == f"{flows_rel}/{name}")})
    return render_template("ops/flows.html", files=files, draft=draft_summary(draft), state=check_state(checked, None, draft),
                           published=a.published(), history=a.history(limit=5),
                           serving=current_app.extensions["content"].loaded_version,
                           fallback=current_app.extensions["content"].fallback)


def _special(name: str) -> str:
    return {"keywords.yaml": "Words that work at any moment", "system.yaml": "Languages, first message, the bot's own lines",
            "hotlines.yaml": "Every phone number the bot gives",
            "understanding.yaml": "What people write in their own words, and where it leads"}.get(
        name, "Conversation tests" if name.startswith("tests/") else "")


@bp.get("/flows/file/<path:name>")
def flow_file(name: str):
    a = admin()
    _file_or_404(name)
    user = _editor()
    text, in_draft = a.file_text(user, name)
    if text is None:
        abort(404)
    draft = a.drafts.get(user) if user else Draft()
    checked = a.check(user or "", draft)
    state = check_state(checked, name, draft)
    flow = _flow_of(name)
    languages = list(checked.translations)  # but English
    return render_template("ops/flows_edit.html", name=name, text=text, in_draft=in_draft, state=state,
                           flow=flow, editable=bool(user), title=flow.title if flow else _special(name),
                           has_texts=not name.startswith("tests/") and name != "keywords.yaml",
                           languages=languages,
                           LANGUAGE_NAMES={code: language_name(code) for code in ["es", "en", *languages]})


# --- editing (editors) -----------------------------------------------------------------------------


@bp.post("/flows/file/<path:name>/check")
@editor_required
def flow_check(name: str):
    """Save the draft as typed and say what is wrong with the whole set (JSON)."""
    try:
        draft, checked = _save_typed(name)
    except Refused as exc:
        return jsonify(error=str(exc)), 413 if isinstance(exc, TooLarge) else 400
    if checked is None:
        return jsonify(error=CHECK_FAILED), 500
    return jsonify(check_state(checked, name, draft))


@bp.post("/flows/file/<path:name>/save")
@editor_required
def flow_save(name: str):
    """The same without the script: save the draft, show the page again with its problems."""
    try:
        _, checked = _save_typed(name)
    except Refused as exc:
        flash(str(exc), "error")
    else:
        if checked is None:
            flash(CHECK_FAILED, "error")
        elif checked.ok:
            flash("Draft saved. No problems: try it in the simulator, then publish it.", "ok")
        else:
            flash(f"Draft saved, with {len(checked.errors)} problem(s) to fix before it can be published.", "error")
    return redirect(url_for("ops.flow_file", name=name))


CHECK_FAILED = ("Your draft is saved, but the check itself failed (the server's log says why). "
                "Try again; if it keeps failing, tell whoever runs the console.")


def _save_typed(name: str):
    """Keep what the editor typed as their draft of ``name`` (:class:`Refused` when it cannot be
    kept), then check the whole set with it: (draft, checked), checked None when the check
    itself failed (logged; the draft is saved all the same)."""
    _file_or_404(name)
    a = admin()
    text, tr = _form_draft()
    draft = a.save(current_user.name, name, text, tr)
    try:
        return draft, a.check(current_user.name, draft)
    except Exception:  # noqa: BLE001 - the draft is saved; say the check itself failed, not the network
        log.exception("the check of %s's draft failed", current_user.name)
        return draft, None


@bp.post("/flows/discard")
@editor_required
def flow_discard():
    name = request.form.get("name") or None
    admin().discard(current_user.name, name)
    flash(f"Your draft of {name} was discarded." if name else "Your draft was discarded.", "ok")
    return redirect(url_for("ops.flow_file", name=name) if name else url_for("ops.flows"))


@bp.post("/flows/publish")
@editor_required
def flow_publish():
    a = admin()
    try:
        published = a.publish(current_user.name, request.form.get("note", ""))
    except Refused as exc:
        flash(str(exc), "error")
        back = request.form.get("back") or ""
        try:
            return redirect(url_for("ops.flow_file", name=_file_or_404(back)) if back else url_for("ops.flows"))
        except Exception:  # noqa: BLE001 - a file gone meanwhile
            return redirect(url_for("ops.flows"))
    log.info("operator %s published flows version %s (%s)", current_user.name, published.version,
             ", ".join(published.record.files))
    flash(f"Published: version {published.version} is live. This console serves it now; {_others()}.", "ok")
    return redirect(url_for("ops.flow_history"))


def _others() -> str:
    seconds = current_app.config["FLOWS_CHECK_SECONDS"]
    return f"every other worker within {seconds:g} s" if seconds >= 1 else "every other worker at once"


# --- history and rollback ----------------------------------------------------------------------------


def diff_lines(diff: str) -> list[tuple[str, str]]:
    """(css class, line) for a unified diff."""
    found = []
    for line in diff.splitlines():
        if line.startswith(("--- ", "+++ ")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "same"
        found.append((kind, line))
    return found


@bp.get("/flows/history")
def flow_history():
    a = admin()
    records = a.history()
    return render_template("ops/flows_history.html", records=records, diff_lines=diff_lines,
                           published=a.published(), kept=a.kept)


def _record_id(rid: str) -> int:
    if not rid.isdigit():
        abort(404)
    return int(rid)


@bp.get("/flows/history/<rid>/rollback")
@editor_required
def flow_rollback_confirm(rid: str):
    a = admin()
    record = a.record(_record_id(rid))
    if record is None:
        flash("That change is no longer in the history.", "error")
        return redirect(url_for("ops.flow_history"))
    try:
        checked = a.rollback_preview(record.id)
    except Refused as exc:
        flash(str(exc), "error")
        return redirect(url_for("ops.flow_history"))

    return render_template("ops/flows_rollback.html", record=record, checked=checked,
                           problems=[problem_view(p, None) for p in checked.problems],
                           diff=diff_lines(unified_diff(checked.changes, a._index_files())))


@bp.post("/flows/history/<rid>/rollback")
@editor_required
def flow_rollback(rid: str):
    a = admin()
    try:
        published = a.rollback(current_user.name, _record_id(rid), request.form.get("note", ""))
    except Refused as exc:
        flash(str(exc), "error")
        return redirect(url_for("ops.flow_history"))
    log.info("operator %s rolled the flows back to before change %s (version %s)", current_user.name, rid,
             published.version)
    flash(f"Rolled back: version {published.version} is live, as before change #{rid}. This console serves it now; "
          f"{_others()}.", "ok")
    return redirect(url_for("ops.flow_history"))


# --- a flow's map --------------------------------------------------------------------------------------


HEAT = [  # (class, shown at least this share of the busiest step's visits, Mermaid style); v0: never shown
    ("v0", 0.0, "fill:#eef0f3,stroke:#8a94a3,color:#3b4350"),
    ("v1", 0.0, "fill:#dbe9f8,stroke:#2f6fb3,color:#0c2a4a"),
    ("v2", 0.25, "fill:#9cc3ec,stroke:#1f5a99,color:#0c2a4a"),
    ("v3", 0.6, "fill:#2f6fb3,stroke:#123e6d,color:#ffffff"),
]


def heat_lines(flow, counts: dict[str, int]) -> list[str]:
    """Mermaid classes colouring each step by how often it was shown."""
    top = max([counts.get(f"{flow.id}.{n.id}", 0) for n in flow.nodes] + [1])
    groups: dict[str, list[str]] = {}
    for node in flow.nodes:
        share = counts.get(f"{flow.id}.{node.id}", 0) / top
        name = "v0" if share == 0 else [h[0] for h in HEAT[1:] if share >= h[1]][-1]
        groups.setdefault(name, []).append(f"{flow.id}.{node.id}".replace(".", "__"))
    lines = [f"  classDef {name} {style}" for name, _, style in HEAT]
    lines += [f"  class {','.join(ids)} {name}" for name, ids in groups.items()]
    return lines


@bp.get("/flows/map/<flow_id>")
def flow_map(flow_id: str):

    fs = served_flows()
    if fs is None or flow_id not in fs.flows:
        abort(404)
    flow = fs.flows[flow_id]
    start, end = period_asked()
    period = figures_of(start, end)
    visits = {f"{f}.{n}": v for (f, n), v in period.by_node("visit").items()}
    left = period.left()
    text = mermaid(fs, flow_id, counts=visits).rstrip("\n") + "\n" + "\n".join(heat_lines(flow, visits)) + "\n"
    rows = [{"id": n.id, "kind": n.kind, "text": (n.text.msgid if n.text else ""),
             "visits": visits.get(f"{flow_id}.{n.id}", 0),
             "left": sum(left.get((flow_id, n.id), {}).values()), "line": n.where.line} for n in flow.nodes]
    return render_template("ops/flows_map.html", flow=flow, source=text, rows=rows, start=start, end=end,
                           today=console().figures.today(), presets=MAP_PRESETS,
                           file=os.path.basename(flow.where.path),
                           flows=sorted(fs.flows.values(), key=lambda f: f.title))


@bp.get("/vendor/<path:filename>")
def vendor(filename: str):
    """Scripts kept in the repository (no outside assets): Mermaid, which draws the flow maps."""
    return send_from_directory(VENDOR, filename, max_age=7 * 86400)


# --- translations and reviews ------------------------------------------------------------------------


# How the translations page names each state (a translation made before the English changed is fuzzy too).
_PAGE_STATES = {MISSING: "missing", EMPTY: "empty", OUTDATED: "fuzzy", FUZZY: "fuzzy", PLACEHOLDERS: "placeholders",
                HIDDEN: "hidden"}


def translation_status(paths: Paths) -> dict[str, dict]:
    """Per language: how many texts, and those not translated, fuzzy or mismatched, from
    :func:`bot.i18n.project_state` (what `translations check` judges)."""
    state, catalogs = i18n.project_state(paths.flows_dir, paths.locales_dir)
    root = paths.root
    status = {}
    for lang, language in state.items():
        po = paths.po(lang)
        error = ""
        if language.catalog == NO_CATALOG:
            error = "There is no catalog for this language yet."
        elif language.catalog == UNREADABLE:
            said = next((p for p in catalogs.problems if p.path == po), None)
            error = f"The catalog cannot be read: {said.message if said else 'see flows check'}"
        items = [{
            "msgid": t.msgid, "state": _PAGE_STATES[t.state], "msgstr": t.msgstr, "previous": t.previous,
            "places": [(os.path.relpath(os.path.join(root, w.path), paths.flows_dir).replace(os.sep, "/"), w.line)
                       for w in t.places],
        } for t in language.todo]
        status[lang] = {"lang": lang, "name": language.name, "po": paths.rel(po), "total": language.total,
                        "done": language.done, "items": items, "error": error}
    return status


@bp.get("/translations")
def translations():
    a = admin()
    status = translation_status(a.paths)
    user = _editor()
    draft = a.drafts.get(user) if user else Draft()
    return render_template("ops/translations.html", status=status, draft=draft_summary(draft))


@bp.get("/reviews")
def reviews():
    fs = served_flows()
    today = console().figures.today()
    as_of = today
    if request.args.get("as_of"):
        try:
            as_of = dt.date.fromisoformat(request.args["as_of"])
        except ValueError:
            flash("Dates are written like 2026-05-31. Showing today.", "error")
    items = []
    paths = admin().paths
    for r in review_list(fs, as_of) if fs is not None else []:
        reviewed = None
        try:
            reviewed = dt.date.fromisoformat(r.reviewed) if r.reviewed else None
        except ValueError:
            pass
        name = os.path.relpath(r.where.path, paths.flows_dir).replace(os.sep, "/")
        items.append({
            "what": f"{r.kind} {r.name}", "kind": r.kind, "source": r.source, "ident": r.ident,
            "link": r.source if re.match(r"^https?://", r.source or "") else None,
            "reviewed": reviewed, "due": r.due, "due_on": reviewed + dt.timedelta(days=REVIEW_DAYS) if reviewed else None,
            "age": (as_of - reviewed).days if reviewed else None, "name": name, "line": r.where.line,
            "verified": r.verified,
        })
    items.sort(key=lambda i: (not i["due"], i["reviewed"] or dt.date.min, i["what"]))
    return render_template("ops/reviews.html", items=items, as_of=as_of, today=today, REVIEW_DAYS=REVIEW_DAYS,
                           due=sum(1 for i in items if i["due"]))


@bp.post("/reviews/checked")
@editor_required
def review_checked():
    """"Checked it today": the review date goes into the editor's draft, to publish."""
    a = admin()
    name, kind, ident = request.form.get("name", ""), request.form.get("kind", ""), request.form.get("ident", "")
    try:
        _file_or_404(name)
        if kind not in ("hotline", "page"):
            raise Refused("not a hotline or a page")
        text, _ = a.file_text(current_user.name, name)
        new, line = mark_reviewed(text, a.paths.flow_path(name), kind, ident, console().figures.today())
    except (Refused, YamlSyntaxError) as exc:
        flash(f"Not marked: {exc}", "error")
        return redirect(url_for("ops.reviews"))
    if new == text:
        flash(f"{kind.capitalize()} {ident} already says it was reviewed today.", "info")
    else:
        a.save(current_user.name, name, new, {})
        flash(f"{kind.capitalize()} {ident}: reviewed today, in your draft. Publish it (below) to make it count.", "ok")
    return redirect(url_for("ops.flow_file", name=name, _anchor=f"line={line}"))
