"""Domain modules, persistence, events and jobs of the 12349 hotline platform."""
