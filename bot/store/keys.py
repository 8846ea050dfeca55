"""Every Redis key the bot uses, by kind: the one place a key name is spelled.

``p`` is ``KEY_PREFIX`` (``hl`` by default; the console's simulator uses
``hl:sim``). A name in ``{…}`` is a Redis Cluster hash tag: every key with
the same tag lives in one slot, so one script can touch them all.

One person (``{cid}``: the contact id, an HMAC of the number)::

    p:{cid}:session     the session, one compact JSON object (TTL SESSION_TTL)
    p:{cid}:lock        the per-contact lock; p:{cid}:waiters and p:{cid}:wake: who waits for it
    p:{cid}:answers     hash MessageSid -> replies given, for Twilio's retries (TTL RETRY_WINDOW)
    p:{cid}:handoff     the hand-off transcript (TTL SESSION_TTL)
    p:{cid}:note        the last wrap-up's internal note, JSON (TTL SESSION_TTL)
    p:{cid}:sids        the conversation's Twilio message sids, deleted at Twilio on quick exit
    p:{cid}:log         the simulator's trial transcript (under ``hl:sim`` only)
    p:optout:{cid}      the opt-out record, no TTL: it outlives the session

Nobody's (the events stream's tag, so that on a cluster a turn touches two
nodes at most: the contact's and the stream's)::

    p:events                    stream, one entry per turn; no bodies, no numbers (capped)
    p:{p:events}:seen:<mark>    a MessageSid already handled (an HMAC of it), 24 h
    p:{p:events}:live           sorted set contact id -> last save (the console's list)
    p:{p:events}:live:handoff   the same for sessions in a hand-off (the console's queue)
    p:{p:events}:purge          sorted set Twilio message sid -> when to delete it at Twilio
    p:{p:events}:erased         sorted set "<conv> <start>" of an erased conversation -> when
                                to drop its entries from the stream
    p:msg:<sid>                 delivery status of an outbound message (7 days)

The console and the content::

    p:duty                       someone is on duty (read by every text)
    p:ops:duty:who|off|armed     who is on duty; paused during the hours; a hand-back is due
    p:ops:user:<name>            an operator's account
    p:ops:signin:<id>            one sign-in, deleted at sign-out
    p:ops:{fail}:<kind>:<value>  failed sign-ins, by user, address or device
    p:ops:draft:<user>           an editor's draft of the flows
    p:ops:flows:audit[:seq]      published changes, newest first; their counter
    p:ops:flows:lock             one publish or rollback at a time
    p:flows:version|published|snapshot   the published flow set every worker follows
    p:{stats}:day:<date>|cursor|pos|quiet   the console's daily figures
    p:aof:rewrite                the embedded Redis's last append-only file rewrite
    p:healthz[:{n}]              GET /healthz's test write, gone a minute after (on a cluster, one per primary)
"""
from __future__ import annotations

import datetime as dt


class Keys:
    """The key names under one prefix.

    >>> k = Keys("hl")
    >>> k.session("c1"), k.optout("c1"), k.live()
    ('hl:{c1}:session', 'hl:optout:{c1}', 'hl:{hl:events}:live')
    """

    def __init__(self, prefix: str = "hl"):
        self.prefix = prefix

    def under(self, suffix: str) -> "Keys":
        """The keys of a separate key space (the simulator's ``hl:sim``)."""
        return Keys(f"{self.prefix}:{suffix}")

    # --- one person ---

    def contact(self, cid: str, what: str) -> str:
        return f"{self.prefix}:{{{cid}}}:{what}"

    def session(self, cid: str) -> str:
        return self.contact(cid, "session")

    def lock(self, cid: str) -> str:
        return self.contact(cid, "lock")

    def waiters(self, cid: str) -> str:
        return self.contact(cid, "waiters")

    def wake(self, cid: str) -> str:
        return self.contact(cid, "wake")

    def answers(self, cid: str) -> str:
        return self.contact(cid, "answers")

    def handoff(self, cid: str) -> str:
        return self.contact(cid, "handoff")

    def sids(self, cid: str) -> str:
        return self.contact(cid, "sids")

    def wrapup_note(self, cid: str) -> str:
        """The responder's internal note from the last chat's wrap-up (TTL SESSION_TTL; erased on quick exit)."""
        return self.contact(cid, "note")

    def said(self, cid: str) -> str:
        """A phone call's last words said (the flows' own, never the caller's)."""
        return self.contact(cid, "said")

    def sim_log(self, cid: str) -> str:
        return self.contact(cid, "log")

    def optout(self, cid: str) -> str:
        return f"{self.prefix}:optout:{{{cid}}}"

    # --- nobody's, beside the events stream ---

    def events(self) -> str:
        return f"{self.prefix}:events"

    def seen(self, mark: str) -> str:
        return f"{self.prefix}:{{{self.events()}}}:seen:{mark}"

    def call_over(self, mark: str) -> str:
        """A phone call that has ended, by its CallSid's mark: "1" for a few minutes
        (see calls.EndedCalls). Not under the caller's contact id: nothing of the
        call is left there once its hang-up erased it."""
        return f"{self.prefix}:{{{self.events()}}}:over:{mark}"

    def live(self) -> str:
        return f"{self.prefix}:{{{self.events()}}}:live"

    def live_handoff(self) -> str:
        return f"{self.prefix}:{{{self.events()}}}:live:handoff"

    def purge(self) -> str:
        return f"{self.prefix}:{{{self.events()}}}:purge"

    def erased_trails(self) -> str:
        return f"{self.prefix}:{{{self.events()}}}:erased"

    def wa_ready(self) -> str:
        """WhatsApp: contact id -> when its outbox got something (bot/store/whatsapp.py)."""
        return f"{self.prefix}:{{{self.events()}}}:wa:ready"

    def wa_content(self) -> str:
        """WhatsApp: the flows' Content API templates, "<flow.node>|<lang>" -> sid and digest."""
        return f"{self.prefix}:wa:content"

    def wa_outbox(self, cid: str) -> str:
        return self.contact(cid, "wa:outbox")

    def wa_sending(self, cid: str) -> str:
        return self.contact(cid, "wa:sending")

    def status(self, sid: str) -> str:
        return f"{self.prefix}:msg:{sid}"

    # --- duty ---

    def duty(self) -> str:
        return f"{self.prefix}:duty"

    def presence(self) -> str:
        """Who has the console open: operator name -> when it lapses (see presence.py)."""
        return f"{self.prefix}:ops:presence"

    def duty_who(self) -> str:
        return f"{self.prefix}:ops:duty:who"

    def duty_off(self) -> str:
        return f"{self.prefix}:ops:duty:off"

    def duty_armed(self) -> str:
        return f"{self.prefix}:ops:duty:armed"

    # --- operators ---

    def account(self, name: str) -> str:
        return f"{self.prefix}:ops:user:{name}"

    def name_of_account(self, key: str) -> str:
        return key.rsplit(":", 1)[1]

    def signin(self, ident: str) -> str:
        return f"{self.prefix}:ops:signin:{ident}"

    def failures(self, kind: str, value: str) -> str:
        return f"{self.prefix}:ops:{{fail}}:{kind}:{value}"

    # --- flows ---

    def draft(self, user: str) -> str:
        return f"{self.prefix}:ops:draft:{user}"

    def flows_audit(self) -> str:
        return f"{self.prefix}:ops:flows:audit"

    def flows_audit_seq(self) -> str:
        return f"{self.prefix}:ops:flows:audit:seq"

    def flows_lock(self) -> str:
        return f"{self.prefix}:ops:flows:lock"

    def flows_version(self) -> str:
        return f"{self.prefix}:flows:version"

    def flows_published(self) -> str:
        return f"{self.prefix}:flows:published"

    def flows_snapshot(self) -> str:
        return f"{self.prefix}:flows:snapshot"

    # --- figures ---

    def stats(self, what: str) -> str:
        return f"{self.prefix}:{{stats}}:{what}"

    def stats_day(self, day: dt.date) -> str:
        return self.stats(f"day:{day.isoformat()}")

    # --- the embedded server ---

    def aof_rewrite(self) -> str:
        return f"{self.prefix}:aof:rewrite"

    # --- the health check ---

    def health(self, slot_tag: int | None = None) -> str:
        """The health check's test write; with ``slot_tag``, a copy hashed to another slot."""
        return f"{self.prefix}:healthz" if slot_tag is None else f"{self.prefix}:healthz:{{{slot_tag}}}"
