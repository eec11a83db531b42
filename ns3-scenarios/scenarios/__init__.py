"""Scenarios: one module each, with run(cfg, out) -> summary and report(summary) -> str, named
in gensemcom.core.registry together with the config sections it reads. Grouped by paper:

    lte_edge                    semantic units over a channel to a GenAI node and on to a sink
    rate_quality                codecs, generators and JPEG: bpp vs quality
    latency_aware.table2        Table II from the analytic model
    latency_aware.sweep         Table II, Phi(BER), Fig. 4 packet-level (helpers: packet_points, phi)
    gnl.flow                    generative network layer flows through ns-3 (gnl_fig1, gnl_flow)
    gnl.sweep                   its rate-quality curves, fits and claims (helper: curve_points)
    meg.protocols, meg.sweep    mobile edge generation (helpers: engine, simulation)

A scenario never imports another scenario (helpers are shared within a paper's package).
"""
