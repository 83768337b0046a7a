"""Bundles: one signed file carrying the manifest, the compiled artifacts and their provenance."""
