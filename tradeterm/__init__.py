"""tradeterm: a full-screen terminal trading application for futures on Interactive Brokers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tradeterm")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
