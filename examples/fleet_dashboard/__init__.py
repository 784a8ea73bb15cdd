"""The fleet dashboard example: FastAPI + one page (fleet, noVNC desktop, xterm.js terminal)."""
