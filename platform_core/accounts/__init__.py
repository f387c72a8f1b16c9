"""User accounts of the console: roles, region scope, passwords, lockout and login sessions."""
