"""Live calls through Twilio.

- ``provider``       ``TwilioProvider``: Calls.create, hang-up, fetch, the price watcher
- ``server``         the callback server (status, AMD, TwiML), signature checks
- ``relay``          one ConversationRelay WebSocket session <-> a ``BrainSession``
- ``server_thread``  uvicorn on a background thread
- ``numbers``        ``number sync``: the workspace's from-numbers as Twilio sees them
- ``codes``          Twilio's error codes: what each means for the number, the account, the pace
"""
