"""canguard: graph-neural-network intrusion detection on the CAN bus, as a reproducible pipeline."""

__version__ = "0.1.0"
