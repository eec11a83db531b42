"""What a channel builds: ns-3 nodes by name, their addresses and roles."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Network:
    nodes: dict = field(default_factory=dict)       # name -> ns3::Node
    addresses: dict = field(default_factory=dict)   # name -> ns3::Ipv4Address
    sources: list[str] = field(default_factory=list)  # nodes that send semantic units
    sink: str = ""                                  # node that receives the generated content
    genai: str = ""                                 # the GenAI node: generates from the units
    info: dict = field(default_factory=dict)        # what was built, for summary.json
    keep: list = field(default_factory=list)        # ns-3 helpers that must outlive the run
    devices: dict = field(default_factory=dict)     # node name -> its radio / link NetDevice
