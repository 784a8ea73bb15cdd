"""One module per scenario; each exposes ``run(...)`` returning a Markdown table."""
