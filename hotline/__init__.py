"""Composition root of the 12349 hotline platform: the ``hotline`` command and the demo."""
