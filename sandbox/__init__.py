"""The local cloud: moto + the real template + in-process handlers (development tooling, never deployed)."""
