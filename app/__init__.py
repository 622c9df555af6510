"""Health-content API: structured health-topic content served by condition and by therapy type."""

__version__ = "0.1.0"
