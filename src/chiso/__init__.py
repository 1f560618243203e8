"""chiso: the data warehouse of a province's digital-transformation indicators."""

__version__ = "0.1.0"
