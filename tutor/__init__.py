"""fm-tutor: a terminal course on foundation models."""
__version__ = "0.1.0"
