"""Runnable examples of orgo-async (see README)."""
