"""ssrdepth: small, fast monocular depth estimation after Valdez Rodríguez, Calvo and Felipe Riverón (2020)."""

__version__ = "0.1.0"
