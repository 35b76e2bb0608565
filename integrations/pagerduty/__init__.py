"""PagerDuty: pages through the Events API v2 and the REST API, and the on-call directory sync."""
