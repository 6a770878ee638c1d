"""Deployment: localize anyone's images (`localizer`) and export a SavedModel (`saved_model`)."""
