"""castgraph: question a YouTube channel in Spanish or English, with cited, timestamped moments."""

__version__ = "0.1.0"
