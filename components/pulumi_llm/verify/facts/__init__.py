"""Facts about upstream components that the rules rely on, as data with their source.

Every fact carries the upstream repository, file and version (tag) it was read from. When a pin moves,
the fact is re-read at the new version and its citation updated with it.
"""
