"""A local stand-in ("sandbox") for the Sangoma CX API over real HTTP; standard library only, no Django."""

from .config import SandboxConfig
from .server import SandboxHandle, start_sandbox

__all__ = ["SandboxConfig", "SandboxHandle", "start_sandbox"]
