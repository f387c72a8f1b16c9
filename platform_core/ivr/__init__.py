"""IVR session records and satisfaction surveys: what happened to each call in the IVR."""
