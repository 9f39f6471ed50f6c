"""The workspace's configuration: what a user sets up before a campaign runs.

- ``agents``     voice agents (greeting, system prompt, voice, voicemail message)
- ``numbers``    from-numbers (caller IDs)
- ``campaigns``  campaigns: agent, number, window, retries, pacing; ``find`` by name
- ``preview``    what a call will say to one lead, rendered before anything is dialed
- ``lease``      the runner lease: one live runner per campaign

Above ``leads``, ``compliance`` and ``store``.
"""
