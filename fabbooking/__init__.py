"""Fabbooking: book the machines of a city's network of public fab spaces."""

import os

# Piccolo finds the engine and apps through PICCOLO_CONF; point it at our module so that
# tables work from any folder, before anything touches a table.
os.environ.setdefault("PICCOLO_CONF", "fabbooking.database")

__version__ = "0.1.0"
