"""Staffing forecast: arrivals per interval from history, and the agents each interval needs
(Erlang C and Erlang A). Pure arithmetic: the flow platform_core.flows.staffing feeds it."""
