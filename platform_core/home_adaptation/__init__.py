"""适老化改造 / home aging-adaptation: from application to the return visit, under a per-household cap."""
