"""Errors of the local model battery (defined in :mod:`adk.errors`, re-exported here)."""

from adk.errors import E_LOCAL_MODEL_CORRUPT, E_LOCAL_SERVER_FAILED, E_LOCAL_SERVER_TIMEOUT

__all__ = ["E_LOCAL_MODEL_CORRUPT", "E_LOCAL_SERVER_FAILED", "E_LOCAL_SERVER_TIMEOUT"]
