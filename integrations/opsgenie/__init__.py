"""Opsgenie: an alert per incident through the Alert API, acknowledged and closed by alias as the incident moves."""
