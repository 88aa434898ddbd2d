"""Page modules, one per part of the site; each exports ``routes()``."""
