"""The incident domain: states, channel names, errors and the service. No vendor imports here."""
