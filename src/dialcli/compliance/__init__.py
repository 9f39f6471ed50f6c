"""Compliance: whether, and when, a number may be dialed -- with the evidence kept.

Owns every gate a dial passes (design.md section 8) and the rules behind them:

- ``rules``      calling-hour rules: campaign/federal window, state rows, holidays, blackouts
- ``policy``     ``CallingPolicy`` and ``GroupWindow`` (permitted instants in every zone of a
                 number), frequency caps, the decision evidence written to the audit log
- ``dnc``        the workspace opt-out list (add, remove, import, export, is_opted_out)
- ``disclosure`` does the agent say who is calling and how to stop the calls
- ``recording``  where recording needs every party's consent, the greeting's notice

Sits above ``store`` and the core modules; knows nothing of leads import, the engine or
providers.
"""
