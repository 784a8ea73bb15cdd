"""Resource classes: thin, one method per endpoint; the pipeline does the work."""
