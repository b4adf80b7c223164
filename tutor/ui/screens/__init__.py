"""Screens of the tutor. Each screen owns the services it talks to (progress store, kernels, model server)."""
