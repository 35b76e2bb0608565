"""ServiceNow: a record in the `incident` table per incident, found again by its correlation id (see
docs/integrations/servicenow.md)."""
