"""Scheduled jobs: which there are (names.py), what each does (sync.py, housekeeping.py), how one run is taken,
recorded and kept from running twice (service.py), and which replica schedules them (leader.py)."""
