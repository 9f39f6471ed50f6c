"""The audit log: one row per dial decision, written in the decision's transaction.

Reading it back (columns, CSV rows) is ``dialcli.results.audit``.
"""

from __future__ import annotations

import json

#: ``json.dumps(x, separators=(",", ":"), default=str)`` without building an encoder
#: for every row (the same text; an audit row is written for every dial).
_compact = json.JSONEncoder(separators=(",", ":"), default=str).encode


def record_decision(conn, *, ts: str, campaign_id: int | None, lead_id: int | None,
                    call_id: int | None, e164: str | None, decision: str,
                    reason: str | None = None, detail: dict | None = None) -> None:
    """Append one row to the audit log (in the caller's transaction)."""
    conn.execute(
        "INSERT INTO audit (ts, campaign_id, lead_id, call_id, e164, decision, reason, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (ts, campaign_id, lead_id, call_id, e164, decision, reason,
         _compact(detail or {})),
    )
