"""doclab: the offline Docker lab and the engine that verifies the site's examples."""

__version__ = "0.1.0"
