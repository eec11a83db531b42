"""Channels that carry semantic units between the nodes of a scenario, by config name.

A channel is one module with

    build(ns, cfg, trace) -> Network     the nodes (sources, GenAI node, sink) and what joins
                                         them, from the channel's config section; `trace` is the
                                         run's packet trace (core.packet_trace)
    ready(ns, cfg, net, stream_bits, trace)
                                         called once the units are encoded, before ns-3 runs
                                         (mean bits per stream: e.g. a power split that depends
                                         on them); every trace source is connected by now
    finish(net) -> None                  after the run: the channel's own statistics into net.info
    phy_summary(packets, info) -> dict | None
                                         the channel's PHY statistics from the packet trace (info:
                                         the network description, net.info)
    TRACE_EVENTS                         the events its trace sources add to packets.parquet

and, for scenarios with several UEs and edge servers (meg),

    build_network(ns, cfg, ues, servers, trace) -> Network
                                         UEs (name, distance) and edge servers (the first is the
                                         GenAI node); then ready() as above

and one line in gensemcom.core.registry.CHANNELS. A scenario gets its channel with
`registry.load_channel(cfg.channel)`, never by importing a channel module, so a new channel
plugs in without touching the scenarios.
"""

