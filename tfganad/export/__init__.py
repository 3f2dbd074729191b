"""SavedModel export in TF-Serving layout and loading without tfganad."""

from tfganad.export.saved_model import export_saved_model, load_scorer

__all__ = ["export_saved_model", "load_scorer"]
