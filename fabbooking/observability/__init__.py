"""Seeing what a running Fabbooking does: its log and its /metrics."""
