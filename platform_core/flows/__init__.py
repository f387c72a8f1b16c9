"""Use cases that span several domain modules (DESIGN.md section 3: ``flows.py``)."""
