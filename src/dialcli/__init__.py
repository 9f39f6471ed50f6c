"""dialcli: outbound AI voice-call campaigns from a laptop."""

__version__ = "0.1.0"
