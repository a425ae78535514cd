"""The real-process fixtures of the reliability suite, shared here: the readiness tests start a real qcluster."""

from tests.reliability.conftest import processes

__all__ = ["processes"]
