"""Providers carry calls to the phone network.

- ``base``       the ``Provider`` interface and its declared capabilities, call events
- ``simulator``  ``SimulatedProvider``: the demo, the rehearsal tool and the test double
- ``twilio``     live calls through the user's Twilio account (the only ``twilio`` user)

Above ``conversation`` (a provider hands each answered call to a brain session).
"""
