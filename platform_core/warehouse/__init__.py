"""The analytics warehouse (ClickHouse: chDB in-process or a server): facts synced from the
primary database, and the bureau's dashboards read from them."""
