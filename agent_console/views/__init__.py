"""Blueprints of the console, one module each."""
