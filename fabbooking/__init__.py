"""Fabbooking: book the machines of a city's network of public fab spaces."""

__version__ = "0.1.0"
