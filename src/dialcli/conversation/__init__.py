"""The agent brain: who speaks next and how the call ends (see ``base``)."""
