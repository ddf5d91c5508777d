"""Back up a Google Photos library through the web app, originals with EXIF intact."""

__version__ = "0.3.0"
