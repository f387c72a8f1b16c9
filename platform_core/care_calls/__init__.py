"""Proactive care calls (主动关怀): campaigns, attempts, and what follows an unanswered elder."""
