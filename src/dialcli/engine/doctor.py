"""``dialcli doctor``: will a live campaign work from this laptop right now?

Each check returns a ``Check`` (ok / warn / fail / skip) with what is wrong and how to
fix it -- the product doc's "common stumbles" turned into tests you can run before
the first call:

1. Twilio credentials: present in the environment and accepted (fetch the account);
   a trial account is a warning (it can only call verified numbers).
2. From-numbers: every campaign's from-number is owned (or a verified caller ID) and
   voice-capable on that account.
3. Public URL: set, well-formed, and reachable *through the tunnel*: the callback
   server (this process starts it briefly if ``dialcli start`` is not running on the
   port) must answer ``<public>/health?nonce=N`` with the same nonce.
4. LLM: if configured, one tiny chat completion succeeds (else the rule brain is used).
5. Calling window: how many leads waiting to be dialed are inside their calling
   window now ("they may all be asleep").
6. Consent: each campaign says what its calls are for (a purpose not set is a
   failure: ``start`` refuses it), how many waiting leads lack the consent that
   purpose needs (they will be skipped), and whether the user turned the gate off
   (when, by whom). For telemarketing, the newest National DNC registry import
   must be at most 31 days old (47 CFR 64.1200(c)(2)(i)(D)). Waiting numbers in a
   state whose artificial-voice law an AI agent cannot meet for the purpose (a ban,
   a live operator first: ``compliance.adad``) are counted by state and statute.

``start_warnings`` is the part of 6 that ``start``, ``resume`` and ``restart`` say
before dialing.

Network look-ups are injected (``account``, ``http``) so tests drive them against the
fake Twilio and fake servers; nothing here prints.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

import httpx

from dialcli import formats
from dialcli.clock import to_iso
from dialcli.compliance import adad, consent
from dialcli.compliance import policy as compliance
from dialcli.compliance.dnc import REGISTRY_PREFIX
from dialcli.config import LLMSettings, TwilioCredentials, public_url as resolve_public_url
from dialcli.errors import ConfigError, DialcliError
from dialcli.models import Campaign, CampaignStatus
from dialcli.compliance.consent import gate_off_text
from dialcli.workspace import voices

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
WAITING = ("PENDING", "RETRY", "CALLBACK", "DIALING")
#: A telemarketer must use a version of the registry obtained at most 31 days before
#: the call (47 CFR 64.1200(c)(2)(i)(D)).
REGISTRY_MAX_AGE_DAYS = 31


@dataclass
class Check:
    name: str
    status: str
    message: str
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.name, "status": self.status, "message": self.message,
                "fix": self.fix}


@dataclass
class DoctorOptions:
    public_url: str | None = None
    port: int = 8765
    host: str = "127.0.0.1"
    timeout: float = 10.0


def run_checks(store: Any, campaigns: list[Campaign], opts: DoctorOptions, *, now: datetime,
               account_factory: Callable[[TwilioCredentials], Any] | None = None,
               http: httpx.Client | None = None) -> list[Check]:
    own_http = http is None
    http = http or httpx.Client(timeout=opts.timeout, trust_env=True, follow_redirects=False)
    try:
        checks: list[Check] = []
        account = check_credentials(checks, account_factory)
        check_from_numbers(checks, account, campaigns)
        check_public_url(checks, opts, http)
        check_llm(checks, http)
        for campaign in campaigns:
            checks.append(check_voices(store, campaign))
            checks.append(check_window(store, campaign, now))
            checks.append(check_consent(store, campaign, now))
            state = check_state_rules(store, campaign)
            if state is not None:
                checks.append(state)
        if not campaigns:
            checks.append(Check("Calling window", SKIP, "No active campaign to check.",
                                "Create one with: dialcli campaign create NAME --agent A --from +1..."))
        registry = check_registry(store, campaigns, now)
        if registry is not None:
            checks.append(registry)
        return checks
    finally:
        if own_http:
            http.close()


def active_campaigns(store: Any) -> list[Campaign]:
    return [Campaign.from_row(r) for r in store.all(
        "SELECT * FROM campaigns WHERE status != ? ORDER BY name COLLATE NOCASE",
        (str(CampaignStatus.COMPLETED),))]


def check_credentials(checks: list[Check], account_factory: Callable | None) -> Any:
    name = "Twilio credentials"
    try:
        creds = TwilioCredentials.from_env()
    except ConfigError as exc:
        checks.append(Check(name, FAIL, exc.message, exc.hint))
        return None
    if account_factory is None:
        # lazy: the twilio library loads only when there are credentials to check
        from dialcli.providers.twilio.account import TwilioAccount

        account_factory = TwilioAccount
    account = account_factory(creds)
    try:
        info = account.account()
    except DialcliError as exc:
        checks.append(Check(name, FAIL, f"Twilio did not accept the credentials: {exc.message}",
                            "Copy the Account SID and Auth Token again from console.twilio.com "
                            "(Account Info) into TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN."))
        return None
    label = f"{creds.account_sid[:6]}…{creds.account_sid[-4:]} ({info.get('name') or 'account'})"
    if info.get("status") != "active":
        checks.append(Check(name, FAIL, f"Twilio account {label} is {info.get('status')}.",
                            "Reactivate the account at console.twilio.com (billing)."))
        return None
    if str(info.get("type", "")).lower() == "trial":
        checks.append(Check(name, WARN, f"Account {label} is a trial account: it can only call "
                            "numbers you verified, and callers hear a trial notice first.",
                            "Upgrade at console.twilio.com > Billing, or verify each lead's "
                            "number under Phone Numbers > Verified Caller IDs."))
    else:
        checks.append(Check(name, OK, f"Account {label} is active."))
    return account


def check_from_numbers(checks: list[Check], account: Any, campaigns: list[Campaign]) -> None:
    name = "From-numbers"
    if account is None:
        checks.append(Check(name, SKIP, "Needs working Twilio credentials."))
        return
    numbers = sorted({c.from_number for c in campaigns})
    if not numbers:
        checks.append(Check(name, SKIP, "No active campaign to check."))
        return
    try:
        known = {n["e164"]: n for n in account.caller_ids()}
        known.update({n["e164"]: n for n in account.owned_numbers()})
    except DialcliError as exc:
        checks.append(Check(name, FAIL, f"Could not list the account's numbers: {exc.message}"))
        return
    for e164 in numbers:
        users = ", ".join(c.name for c in campaigns if c.from_number == e164)
        info = known.get(e164)
        if info is None:
            checks.append(Check(name, FAIL, f"{e164} (campaign {users}) is not a number on this "
                                "Twilio account or a verified caller ID; Twilio will refuse "
                                "every call (error 21210).",
                                f"Buy or verify {e164} at console.twilio.com, or switch: "
                                f"dialcli campaign edit {campaigns[0].name} --from +1...; then "
                                "dialcli number sync"))
        elif not info["voice"]:
            checks.append(Check(name, FAIL, f"{e164} (campaign {users}) cannot make voice calls.",
                                "Pick a voice-capable number (dialcli number sync shows them)."))
        else:
            checks.append(Check(name, OK, f"{e164} ({info['kind']}) can call; used by {users}."))


def _nonce() -> str:
    return secrets.token_hex(8)


def check_public_url(checks: list[Check], opts: DoctorOptions, http: httpx.Client) -> None:
    # lazy: starlette and uvicorn load only when there is a public URL to check
    from dialcli.providers.twilio.server import CallServer, check_public_url as parse

    name = "Public URL"
    raw = resolve_public_url(opts.public_url)
    try:
        url = parse(raw)
    except ConfigError as exc:
        checks.append(Check(name, FAIL, exc.message, exc.hint))
        return
    local = f"http://{opts.host}:{opts.port}"
    started = None
    if not _is_dialcli(http, local + "/health"):
        try:
            started = CallServer(None, public_url=url, host=opts.host, port=opts.port).start()
        except DialcliError as exc:
            checks.append(Check(name, FAIL, f"Port {opts.port} is taken by something that is not "
                                "dialcli's callback server.", exc.hint))
            return
    try:
        nonce = _nonce()
        try:
            r = http.get(url + "/health", params={"nonce": nonce})
        except httpx.HTTPError as exc:
            checks.append(Check(name, FAIL, f"{url} is not reachable ({type(exc).__name__}).",
                                f"Is the tunnel running and pointed at port {opts.port}? e.g.\n"
                                f"  cloudflared tunnel --url http://localhost:{opts.port}\n"
                                f"  ngrok http {opts.port}"))
            return
        try:
            body = r.json() if r.status_code == 200 else {}
        except ValueError:
            body = {}
        if not isinstance(body, dict) or body.get("nonce") != nonce \
                or body.get("service") != "dialcli":
            checks.append(Check(name, FAIL, f"{url} answers (HTTP {r.status_code}) but not with "
                                "this dialcli's callback server.",
                                f"Point the tunnel at http://localhost:{opts.port} (the --port of "
                                "dialcli start), or pass the tunnel's current URL."))
            return
        if url.startswith("http://"):
            checks.append(Check(name, WARN, f"{url} reaches this laptop, but over plain http.",
                                "Twilio needs https (and wss for the conversation) with a valid "
                                "certificate: use the tunnel's https URL."))
            return
        checks.append(Check(name, OK, f"{url} reaches this laptop's callback server."))
    finally:
        if started is not None:
            started.stop()


def _is_dialcli(http: httpx.Client, url: str) -> bool:
    try:
        r = http.get(url, params={"nonce": "local"}, timeout=2.0)
        return r.status_code == 200 and r.json().get("service") == "dialcli"
    except (httpx.HTTPError, ValueError):
        return False


def check_llm(checks: list[Check], http: httpx.Client) -> None:
    name = "LLM"
    settings = LLMSettings.from_env()
    if settings is None:
        checks.append(Check(name, OK, "No LLM configured: the built-in rule brain holds the "
                            "conversations.", "For natural conversations set DIALCLI_LLM_BASE_URL, "
                            "DIALCLI_LLM_MODEL and DIALCLI_LLM_API_KEY (any OpenAI-compatible API)."))
        return
    headers = {"Authorization": f"Bearer {settings.api_key.reveal()}"} if settings.api_key else {}
    body = {"model": settings.model, "max_tokens": 5, "temperature": 0,
            "messages": [{"role": "user", "content": "Reply with the word OK."}]}
    where = f"{settings.base_url} (model {settings.model})"
    try:
        r = http.post(settings.base_url + "/chat/completions", json=body, headers=headers)
    except httpx.HTTPError as exc:
        checks.append(Check(name, FAIL, f"Cannot reach the LLM at {where}: {type(exc).__name__}.",
                            "Check DIALCLI_LLM_BASE_URL (e.g. http://localhost:11434/v1 for "
                            "Ollama) and that the server is running."))
        return
    if r.status_code in (401, 403):
        checks.append(Check(name, FAIL, f"The LLM at {where} refused the API key "
                            f"(HTTP {r.status_code}).", "Set DIALCLI_LLM_API_KEY to a valid key."))
        return
    if r.status_code == 404:
        checks.append(Check(name, FAIL, f"The LLM at {where} answered 404: wrong base URL or "
                            "unknown model.", "The base URL usually ends in /v1; check the model "
                            "name with your provider."))
        return
    try:
        ok = r.status_code == 200 and bool(r.json().get("choices"))
    except ValueError:
        ok = False
    if not ok:
        checks.append(Check(name, FAIL, f"The LLM at {where} did not answer a test completion "
                            f"(HTTP {r.status_code}).", "Check the server's logs and the model name."))
        return
    checks.append(Check(name, OK, f"{where} answers."))


def check_voices(store: Any, campaign: Campaign) -> Check:
    """The campaign's agent's voices: a relay voice its provider can speak in the
    agent's language, and a <Say> voice for the voicemail (workspace/voices.py).
    Names only: whether the account has a provider enabled, Twilio alone knows."""
    name = f"Voices ({campaign.name})"
    row = store.one("SELECT * FROM agents WHERE id = ?", (campaign.agent_id,))
    if row is None:
        return Check(name, FAIL, "The campaign's agent is missing.")
    agent = dict(row)
    problems = voices.voice_problems(agent)
    relay = (f"{agent.get('tts_provider') or 'Twilio default'} "
             f"{agent.get('voice') or ''}").strip()
    said = voices.say_voice_for(agent) or "Twilio's default"
    if problems:
        return Check(name, FAIL if any(not p.startswith("no voicemail voice") for p in problems)
                     else WARN, f"Agent {agent['name']!r}: " + "; ".join(problems),
                     f"dialcli agent edit {agent['name']!r} --tts-provider P --voice V "
                     "--voicemail-voice Polly.NAME-Neural")
    return Check(name, OK, f"Agent {agent['name']!r} speaks {agent.get('language')} with "
                           f"{relay}; voicemail read by {said}.")


def check_window(store: Any, campaign: Campaign, now: datetime) -> Check:
    name = f"Calling window ({campaign.name})"
    rows = store.all(
        "SELECT g.zones, g.region, COUNT(*) AS n FROM leads l LEFT JOIN zone_groups g "
        "ON g.id = l.cur_group WHERE l.campaign_id = ? AND l.status IN (?, ?, ?, ?) "
        "GROUP BY l.cur_group", (campaign.id, *WAITING))
    total = sum(r["n"] for r in rows)
    window = f"{campaign.window_start}-{campaign.window_end}"
    if total == 0:
        return Check(name, SKIP, "No leads are waiting to be dialed.")
    policy = compliance.policy_for_campaign(store.conn, campaign)
    open_now = unknown = never = 0
    soonest: datetime | None = None
    for r in rows:
        zones = tuple(z for z in (r["zones"] or "").split(",") if z)
        group = policy.window_for(zones, r["region"] or "")
        if group.reason_closed:
            unknown += r["n"]
            continue
        nxt = group.next_open(now)
        if nxt is None:
            never += r["n"]
        elif nxt[0] == now:
            open_now += r["n"]
        elif soonest is None or nxt[0] < soonest:
            soonest = nxt[0]
    note = (f" {unknown} lead(s) have no known time zone and will not be dialed "
            "(add a 'timezone' column)." if unknown else "")
    if never:
        states = ", ".join(f"{st} {hours}" for st, hours in
                           compliance.unreachable_states(campaign.window))
        note += (f" {never} lead(s) have no permitted calling time and will be skipped"
                 + (f" (hours these states allow never meet {window}: {states})." if states
                    else "."))
    if open_now:
        return Check(name, WARN if unknown or never else OK,
                     f"{open_now} of {total} waiting lead(s) are inside {window} local time now."
                     + note)
    when = f" The earliest window opens at {soonest:%Y-%m-%d %H:%M} UTC." if soonest else ""
    return Check(name, WARN, f"None of the {total} waiting lead(s) is inside {window} in their "
                 f"own time zone right now: they may all be asleep.{when}{note}",
                 "Nothing is wrong if you start now: dialcli waits for each lead's window. "
                 "To call sooner, check the recipients' time zones against the campaign window "
                 "(dialcli campaign edit NAME --window 09:00-20:00).")


def check_consent(store: Any, campaign: Campaign, now: datetime) -> Check:
    """The campaign's purpose, its gate, and the waiting leads the gate will skip."""
    name = f"Consent ({campaign.name})"
    if campaign.purpose not in consent.PURPOSES:
        message, fix = consent.unset_purpose(campaign.name)
        return Check(name, FAIL, message + " Start refuses it.", fix)
    lacking = consent.lacking(store.conn, campaign.id, campaign.purpose, to_iso(now))
    needs = consent.NEEDS[campaign.purpose]
    if campaign.consent_gate == "off":
        return Check(name, WARN, gate_off_text(campaign.consent_gate_changed_at,
                                               campaign.consent_gate_changed_by, sentence=True)
                     + f" ({campaign.purpose}: {needs}; {formats.count(lacking)} waiting lead(s) have "
                     "no such record here).",
                     f"Import the records (dialcli consent import FILE) and turn it back on: "
                     f"dialcli campaign edit {campaign.name} --consent-gate on")
    waiting = store.scalar(
        "SELECT COUNT(*) FROM leads WHERE campaign_id = ? AND status IN ('PENDING', 'RETRY', "
        "'CALLBACK')", (campaign.id,))
    if lacking:
        return Check(name, WARN, f"{formats.count(lacking)} of {formats.count(waiting)} waiting "
                                 "lead(s) have no number "
                     f"with {needs} on record: they will be skipped ({campaign.purpose}).",
                     "Add the records from your web form or CRM: dialcli consent import FILE "
                     "(or consent_at / consent_type / consent_source columns in the leads CSV)")
    return Check(name, OK, f"{campaign.purpose}: every waiting lead ({formats.count(waiting)}) has {needs} "
                 "on record; the gate checks it again at each dial.")


def check_state_rules(store: Any, campaign: Campaign) -> Check | None:
    """Waiting numbers a state's artificial-voice law keeps from an AI agent for this
    campaign's purpose (ban, or a live operator first): they will be skipped, with the
    statute, whatever consent is on record. None when there are none."""
    if campaign.purpose not in consent.PURPOSES:
        return None
    found = adad.blocked_numbers(store.conn, campaign.id, campaign.purpose,
                                 ("PENDING", "RETRY", "CALLBACK"))
    if not found:
        return None
    total = sum(n for _rule, n in found)
    return Check(f"State artificial-voice laws ({campaign.name})", WARN,
                 f"{formats.count(total)} waiting number(s) will be skipped for {campaign.purpose} calls "
                 "by an AI voice: " + "; ".join(f"{formats.count(n)} in {rule.describe()}"
                                                for rule, n in found) + ".",
                 "Nothing to fix in dialcli: these states' laws forbid the call (or need a "
                 "human operator first). Call them with a live agent, or remove the leads.")


def registry_imported_at(store: Any) -> str | None:
    """When the newest National DNC registry file came in: the newest registry entry,
    or the newest registry import (re-importing an unchanged list adds no entry but
    is a fresh scrub all the same)."""
    return store.scalar(
        "SELECT MAX(at) FROM (SELECT MAX(added_at) AS at FROM dnc WHERE source LIKE ? "
        "UNION ALL SELECT MAX(ts) FROM audit WHERE campaign_id IS NULL AND decision = "
        "'dnc-import' AND json_extract(detail, '$.source') LIKE ?)",
        (f"{REGISTRY_PREFIX}:%", f"{REGISTRY_PREFIX}:%"))


def check_registry(store: Any, campaigns: list[Campaign], now: datetime) -> Check | None:
    """For telemarketing campaigns: is the National DNC registry data fresh enough?
    None when no campaign checked is telemarketing."""
    selling = [c for c in campaigns if c.purpose == consent.TELEMARKETING]
    if not selling:
        return None
    names = ", ".join(c.name for c in selling)
    newest = registry_imported_at(store)
    fix = ("Download your area codes' list at telemarketing.donotcall.gov and import it: "
           "dialcli dnc import FILE")
    if newest is None:
        gated = all(c.consent_gate == "on" for c in selling)
        return Check("DNC registry", OK if gated else WARN,
                     f"No National DNC registry file imported (telemarketing: {names}). "
                     + ("Every dial needs written consent on record, which the registry rule "
                        "allows (64.1200(c)(2)(ii))." if gated else
                        "With the consent gate off, registry numbers are not refused."), fix)
    age = consent.age_days(newest, now) or 0.0
    when = newest[:10]
    if age > REGISTRY_MAX_AGE_DAYS:
        return Check("DNC registry", WARN, registry_stale_text(newest, now) + f" ({names}).",
                     fix)
    return Check("DNC registry", OK, f"National DNC registry imported {when} ({age:.0f} "
                 f"day(s) ago; at most {REGISTRY_MAX_AGE_DAYS} for telemarketing).")


def registry_stale_text(newest: str, now: datetime) -> str:
    age = consent.age_days(newest, now) or 0.0
    return (f"The newest National DNC registry import is {age:.0f} days old ({newest[:10]}): "
            f"telemarketing needs a copy at most {REGISTRY_MAX_AGE_DAYS} days old "
            "(47 CFR 64.1200(c)(2)(i)(D))")


def start_warnings(store: Any, campaign_id: int, now: datetime) -> list[str]:
    """What ``start``, ``resume`` and ``restart`` warn of before dialing: the gate off,
    stale registry data for telemarketing, leads the gate will skip. An unspecified
    purpose is not warned of: the engine refuses it with the fix."""
    row = store.one("SELECT * FROM campaigns WHERE id = ?", (campaign_id,))
    if row is None:
        return []
    campaign = Campaign.from_row(row)
    if campaign.purpose not in consent.PURPOSES:
        return []
    warnings = []
    if campaign.consent_gate == "off":
        warnings.append(gate_off_text(campaign.consent_gate_changed_at,
                                      campaign.consent_gate_changed_by) + ".")
    if campaign.purpose == consent.TELEMARKETING:
        newest = registry_imported_at(store)
        if newest is not None and (consent.age_days(newest, now) or 0) > REGISTRY_MAX_AGE_DAYS:
            warnings.append(registry_stale_text(newest, now)
                            + ": import a fresh one with dialcli dnc import FILE.")
    if campaign.consent_gate == "on":
        lacking = consent.lacking(store.conn, campaign.id, campaign.purpose, to_iso(now))
        if lacking:
            warnings.append(f"{formats.count(lacking)} waiting lead(s) have no number with "
                            f"{consent.NEEDS[campaign.purpose]} on record: they will be "
                            "skipped. Add records with: dialcli consent import FILE")
    return warnings


def check_workspace(store: Any) -> Check:
    """The workspace file is sound: ``PRAGMA quick_check`` within its time budget."""
    from dialcli.store import health

    if store.path == ":memory:":
        return Check("Workspace", SKIP, "In-memory workspace: nothing on disk to check.")
    got = health.quick_check(store.conn)
    if not got.ok:
        shown = "; ".join(got.problems[:3])
        return Check("Workspace", FAIL, f"{store.path} is damaged: {shown}.",
                     "dialcli doctor --repair (copies what can be read into a new file), "
                     "or restore a backup.")
    if not got.finished:
        return Check("Workspace", WARN, f"Integrity check of {store.path} stopped after "
                     f"{got.seconds:.0f} s; the part read was sound.",
                     "Run it without time limit: sqlite3 " + store.path + " 'PRAGMA quick_check'")
    return Check("Workspace", OK, f"{store.path}: integrity ok (quick_check, "
                 f"{got.seconds * 1000:,.0f} ms).")
