"""How each kind of project is installed, tested, built, delivered and checked.

A plan names its toolchain; the steps ask the toolchain, never the language. See
``protocol.py`` for what a toolchain is and ``registry.py`` for how one is found or added.
"""

from vitco.toolchains.exceptions import (
    BadRequirements,
    DependencyInstallFailed,
    ToolchainError,
    UnknownToolchain,
)
from vitco.toolchains.plans import CommandCheck, CommandPlan, DeployPlan, SmokeTest
from vitco.toolchains.protocol import Check, Contract, Kind, Shipment, Toolchain, Tools
from vitco.toolchains.registry import (
    DEFAULT_TOOLCHAIN,
    available,
    get_toolchain,
    register,
    unregister,
)
from vitco.toolchains.report import Failure, TestReport

__all__ = [
    "DEFAULT_TOOLCHAIN",
    "BadRequirements",
    "Check",
    "CommandCheck",
    "CommandPlan",
    "Contract",
    "DependencyInstallFailed",
    "DeployPlan",
    "Failure",
    "Kind",
    "Shipment",
    "SmokeTest",
    "TestReport",
    "Toolchain",
    "ToolchainError",
    "Tools",
    "UnknownToolchain",
    "available",
    "get_toolchain",
    "register",
    "unregister",
]
