"""``fabbooking backup`` and ``restore``: the database and the media folder in one archive."""
