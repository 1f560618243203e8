"""Deterministic simulator of the province's source systems (see README.md in this folder)."""

from .apps import SimState, create_edoc_app, create_oss_app
from .engine import Clock, SimConfig, Simulator
from .esign_drop import write_esign_drop
from .faults import FaultConfig
from .portal import Portal, PortalConfig, create_portal_app

__all__ = ["Clock", "FaultConfig", "Portal", "PortalConfig", "SimConfig", "SimState", "Simulator", "create_edoc_app",
           "create_oss_app", "create_portal_app", "write_esign_drop"]
