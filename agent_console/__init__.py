"""The agent console: Flask + Flask-SocketIO for agents, supervisors, officers and administrators."""

from agent_console.app import create_app

__all__ = ["create_app"]
