"""Chengyun 城运: an open city operations hub for grassroots governance."""

__version__ = "0.1.0"
