"""Calls, queues, agents and recalls: the telephony truth that callcenter writes from AMI."""
