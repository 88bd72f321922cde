"""Piccolo's entry point (for the ``piccolo`` command). The app itself uses fabbooking.database."""

from fabbooking.database import APP_REGISTRY, DB

__all__ = ["APP_REGISTRY", "DB"]
