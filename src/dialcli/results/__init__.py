"""Results out: what a campaign did, for people and for other systems.

- ``reporting`` KPIs, dispositions, the lead table and cost as plain data
- ``exports``   streaming CSV exports (leads, calls), spreadsheet-safe cells
- ``calls``     call review: the call log, one call as a conversation, the JSONL records
- ``webhooks``  subscriptions and signatures of the signed webhook outbox
- ``delivery``  ``Deliverer``: sends due outbox events with backoff and dead letters

Events are written to the outbox by ``store.outbox`` in the transaction of the lead
change; this package only reads and delivers them.
"""
