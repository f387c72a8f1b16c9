"""Bulk imports of registry data from the Excel files departments send."""
