"""A PBX simulator that speaks real AMI over TCP (and hands calls to FastAGI), in place of
Asterisk for development, the demo, tests and benchmarks."""

from callcenter.pbx_sim.config import (
    AgentConfig,
    AmiUser,
    CallerConfig,
    PhoneConfig,
    QueueConfig,
    SimConfig,
    default_config,
)
from callcenter.pbx_sim.pbx import PbxSimulator, SimCall
from callcenter.pbx_sim.server import AmiServer

__all__ = [
    "AgentConfig",
    "AmiServer",
    "AmiUser",
    "CallerConfig",
    "PbxSimulator",
    "PhoneConfig",
    "QueueConfig",
    "SimCall",
    "SimConfig",
    "default_config",
]
