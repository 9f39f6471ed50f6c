"""The audit log read back: one dict per decision, and its spreadsheet-safe CSV row.

Written by ``dialcli.store.audit.record_decision`` in each decision's transaction.
A dial's row keeps the consent it relied on (``detail["consent"]``: what the
campaign's purpose required, and the record's type, time and source); the
``consent_*`` columns lift it out so the CSV is the evidence on its own. Rows
without it (skips before the gate, rows older than the gate) read empty there.
"""

from __future__ import annotations

import json

from dialcli.compliance.rules import states_of
from dialcli.leads.cells import neutralise
from dialcli.store import where


AUDIT_COLUMNS = (
    "id", "ts", "campaign", "lead_row", "lead", "call_id", "e164", "decision", "reason",
    "zones", "zone_source", "states", "local_time", "rules_version", "rules", "window_open",
    "next_open", "closed_because", "opt_out", "cap_count", "cap_limit", "consent_required",
    "consent_type", "consent_at", "consent_source", "detail",
)


def flat(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return "; ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def audit_entries(conn, *, campaign_id: int | None = None, lead_id: int | None = None,
                  decision: str | None = None, limit: int | None = None,
                  call_id: int | None = None):
    """Audit rows oldest first, as dicts with ``AUDIT_COLUMNS`` keys (streamed).

    ``detail`` fields are lifted into columns; rows written before ``decision_detail``
    existed (keys ``local``, ``on_opt_out_list``) read the same way.
    """
    clause, params = where(("a.campaign_id = ?", campaign_id), ("a.lead_id = ?", lead_id),
                           ("a.call_id = ?", call_id), ("a.decision = ?", decision))
    sql = ("SELECT a.id, a.ts, c.name, l.row_number, l.name, a.call_id, a.e164, a.decision, "
           "a.reason, a.detail FROM audit a LEFT JOIN campaigns c ON c.id = a.campaign_id "
           # The campaign too: before migration m008 a deleted campaign's lead ids
           # could be handed out again.
           "LEFT JOIN leads l ON l.id = a.lead_id AND l.campaign_id = a.campaign_id"
           + clause + " ORDER BY a.id"
           + (" LIMIT ?" if limit else ""))
    if limit:
        params.append(limit)
    for row in conn.execute(sql, params):
        try:
            detail = json.loads(row[9] or "{}")
        except ValueError:
            detail = {"raw": row[9]}
        rules = detail.get("rules")
        consent = detail.get("consent")
        consent = consent if isinstance(consent, dict) else {}
        version = detail.get("rules_version") or (rules if isinstance(rules, str) else None)
        yield {
            "id": row[0], "ts": row[1], "campaign": row[2], "lead_row": row[3],
            "lead": row[4], "call_id": row[5], "e164": row[6], "decision": row[7],
            "reason": row[8], "zones": detail.get("zones"),
            "zone_source": detail.get("zone_source"),
            "states": detail.get("states") or list(states_of(detail.get("region"))) or None,
            "local_time": detail.get("local_time") or detail.get("local"),
            "rules_version": version,
            "rules": rules if isinstance(rules, list) else None,
            "window_open": detail.get("window_open"), "next_open": detail.get("next_open"),
            "closed_because": detail.get("closed_because"),
            "opt_out": detail.get("opt_out", detail.get("on_opt_out_list")),
            "cap_count": detail.get("cap_count"), "cap_limit": detail.get("cap_limit"),
            "consent_required": consent.get("required"), "consent_type": consent.get("type"),
            "consent_at": consent.get("at"), "consent_source": consent.get("source"),
            "detail": detail,
        }


def audit_csv_row(entry: dict) -> list[str]:
    """One CSV row: nested values flattened; ``detail`` kept whole as JSON.

    Cells are made safe for spreadsheets like every other export: a lead named
    ``=HYPERLINK(...)`` in a vendor's file must not become a live formula here.
    """
    return [json.dumps(entry["detail"], separators=(",", ":"), default=str)
            if k == "detail" else neutralise(flat(entry[k])) for k in AUDIT_COLUMNS]
