"""Runners: ``DispatchRunner`` (and ``TurnRunner``), the onion, gates and abort."""
