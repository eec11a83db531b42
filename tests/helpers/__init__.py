"""Test helpers: run the CLI as a user would (cli_run), execute notebooks headless
(notebooks), build tiny random pretrained-format models on disk (tiny_models)."""
