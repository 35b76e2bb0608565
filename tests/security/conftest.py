"""The security checks drive a running Vigil as the app tests do: the same emulator and `start_vigil` fixtures."""

from tests.app.conftest import emulator, start_vigil

__all__ = ["emulator", "start_vigil"]
