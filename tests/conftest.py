"""Test markers (registered in pyproject.toml):

    ns3    loads ns-3 (the cppyy bindings: ~10 s the first time in a process)
    e2e    runs a scenario end to end (agents, ns-3, outputs), usually through the CLI
    slow   takes more than a few seconds

`./test.sh` runs everything (CI does); `./test.sh -m "not slow"` is the quick subset.
"""
