"""Panes of the desktop app."""
