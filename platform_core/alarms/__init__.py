"""SOS and sensor alarms: intake of device signals, de-duplication, the escalation ladder, KPIs."""
